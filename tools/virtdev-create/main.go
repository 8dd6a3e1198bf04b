// Command virtdev-create derives a project's machine from the sealed base.
//
//	virtdev-create [OPTIONS] <project>
//
// The project gets two thin qcow2 deltas over the base (system and home), a
// private copy of the base's UEFI variables and the base generation it was
// derived from. stdout: the project directory.
//
// Exit codes: 0 created; 2 invalid or reserved project name; 3 no sealed
// base; 4 a base file is missing; 5 the base generation is corrupt; 6 the
// project exists; 7 the disks could not be made (nothing is left behind);
// 64 usage; 75 lock held; 81 bad configuration.
package main

import (
	"errors"
	"fmt"
	"os"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/term"
	"virtdev/lib/validate"
)

const (
	exitNoBase        = 3
	exitMissingFile   = 4
	exitCorruptBase   = 5
	exitProjectExists = 6
	exitCreateFailed  = 7
)

var command = cli.Command{
	Name:     "virtdev-create",
	Synopsis: "<project>",
	Summary:  "Derive a project's machine from the sealed base.",
	Description: `Creates $VIRTDEV_HOME/projects/<project>/ with thin deltas over the sealed
base: only what the project changes takes disk space. Boot it with
virtdev-start <project>.

Exit codes: 0 created; 2 invalid or reserved project name; 3 no sealed base;
4 a base file is missing; 5 the base generation is corrupt; 6 the project
exists; 7 the disks could not be made (nothing is left behind); 64 usage;
75 another virtdev program holds the lock; 81 malformed environment variable.`,
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if err := cli.Positionals(args, 1, 1); err != nil {
		return err
	}
	name := args[0]
	if err := validate.NewProjectName(name); err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	held, err := lock.Acquire(l, env.Name)
	if err != nil {
		return err
	}
	defer held.Release()

	sys, m := l.System(), l.Project(name)
	if _, err := os.Stat(m.Dir); err == nil {
		return cli.Errorf(exitProjectExists, "project %q already exists: %s\nUse it (virtdev-start %s), or rebuild it on the current base: virtdev-recreate %s", name, m.Dir, name, name)
	}
	g, err := project.ReadGeneration(sys.Generation, false)
	var corrupt *project.CorruptError
	switch {
	case errors.Is(err, project.ErrNoGeneration):
		return cli.Errorf(exitNoBase, "no sealed base: %s does not exist\nBuild and seal one: virtdev-bootstrap && virtdev-seal", sys.Generation)
	case errors.As(err, &corrupt):
		return cli.Errorf(exitCorruptBase, "%s\nThe sealed base is damaged; restore the file, or rebuild the base.", corrupt)
	case err != nil:
		return cli.Wrap(exitCorruptBase, err, "cannot read the base generation")
	}
	if missing, ok := base.MissingFile(sys); ok {
		return cli.Errorf(exitMissingFile, "the sealed base is incomplete: %s is missing\nRestore it, or rebuild the base.", missing)
	}
	if err := base.Derive(env.Ctx, l, name, g); err != nil {
		if errors.Is(err, base.ErrExists) {
			return cli.Errorf(exitProjectExists, "project %q appeared while it was being created: %s", name, m.Dir)
		}
		return cli.Wrap(exitCreateFailed, err, "cannot create project %q (nothing was left behind)", name)
	}
	env.Infof("%s", env.Palette.Paint(fmt.Sprintf("Project %s created on base generation %s", name, g), term.Green, false))
	env.Infof("Start it with: virtdev-start %s", name)
	fmt.Fprintln(env.Stdout, m.Dir)
	return nil
}
