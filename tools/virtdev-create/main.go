// Command virtdev-create derives a project's machine from the sealed base.
//
//	virtdev-create [OPTIONS] <project>
//
// The project gets two thin qcow2 deltas over the base (system and home), a
// private copy of the base's UEFI variables and the base generation it was
// derived from. stdout: the project directory.
//
// It holds the base lock shared, so that the base stays as it is while it
// is copied from, and the new project's lock.
package main

import (
	"errors"
	"fmt"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/delta"
	"virtdev/lib/exitcode"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/sshx"
	"virtdev/lib/term"
	"virtdev/lib/validate"
)

const (
	exitProjectExists = 10
	exitCreateFailed  = 11
)

var command = cli.Command{
	Name:    "virtdev-create",
	Group:   cli.Lifecycle,
	Summary: "Derive a project's machine from the sealed base.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgNewName}},
	Description: `Creates $VIRTDEV_HOME/projects/<project>/ with thin deltas over the sealed
base: only what the project changes takes disk space. Boot it with
virtdev-start <project>.

The empty deltas are copied from a cache that virtdev-seal prepares, each
copy checked against the checksum recorded with it; a damaged cache entry is
made again with qemu-img. The project is assembled in a hidden directory and
renamed into place: a failure or an interrupt leaves nothing behind, and
what a create killed on the way left is removed by the next one.

It warns when the file system under VIRTDEV_HOME has less room than
VIRTDEV_MIN_FREE (default 2G): when it is full, QEMU pauses the machines
whose disks are on it.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "created"},
		exitcode.InvalidName, exitcode.Unusable,
		{N: exitProjectExists, Meaning: "the project exists"},
		{N: exitCreateFailed, Meaning: "the disks could not be made (nothing is left behind)"},
		exitcode.Output, exitcode.Locked, exitcode.Config, exitcode.NoBase, exitcode.BaseDamaged,
		exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	name := args[0]
	if err := validate.NewProjectName(name); err != nil {
		return err
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	baseLock, err := lock.Base(l, env.Name, lock.Shared)
	if err != nil {
		return err
	}
	defer baseLock.Release()
	projectLock, err := lock.Project(l, name, env.Name)
	if err != nil {
		return err
	}
	defer projectLock.Release()

	swept, err := delta.SweepCreates(l, name, env.Name)
	for _, dir := range swept {
		env.Warnf("removed %s, left by an interrupted virtdev-create", dir)
	}
	if err != nil {
		return err
	}
	m, err := project.Find(l, name)
	switch {
	case err == nil:
		return cli.Errorf(exitProjectExists, "project %q already exists: %s\nUse it (virtdev-start %s), or rebuild it on the current base: virtdev-recreate %s", name, m.Dir, name, name)
	case exitcode.For(err) != exitcode.NotFound.N:
		return err
	}
	g, err := base.Sealed(l)
	if err != nil {
		return err
	}
	if err := delta.Derive(env.Ctx, l, name, g, sshx.MakeHostKey, env.Warnf); err != nil {
		switch {
		case env.Ctx.Err() != nil:
			return cli.Errorf(exitcode.Interrupted.N, "interrupted while creating project %q; nothing was left behind", name)
		case errors.Is(err, delta.ErrExists):
			return cli.Errorf(exitProjectExists, "project %q appeared while it was being created: %s", name, m.Dir)
		case exitcode.For(err) != exitcode.Failure.N:
			return err
		}
		return cli.Wrap(exitCreateFailed, err, "cannot create project %q (nothing was left behind)", name)
	}
	env.Infof("%s", env.Palette.Paint(fmt.Sprintf("Project %s created on base generation %s", name, g), term.Green, false))
	if warning := project.RoomWarning(m.Dir, cfg.MinFree); warning != "" {
		env.Warnf("%s", warning)
	}
	env.Infof("Start it with: virtdev-start %s", name)
	fmt.Fprintln(env.Stdout, m.Dir)
	return nil
}
