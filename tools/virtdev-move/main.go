// Command virtdev-move renames a stopped project.
//
//	virtdev-move [OPTIONS] <old-name> <new-name>
//
// The project directory, the backups (their snapshots re-marked), the
// configuration directory and the pinned host key follow the project to
// its new name, so that it starts, lists and restores under it; the guest
// takes the new host name at its next boot. A journal makes the move
// atomic: an interrupted move is finished or undone by the next
// virtdev-move, destroy or detach of either name. stdout: the project's
// new directory.
package main

import (
	"errors"
	"fmt"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/lifecycle"
	"virtdev/lib/project"
	"virtdev/lib/sshx"
	"virtdev/lib/term"
	"virtdev/lib/validate"
)

const (
	exitTaken        = 10
	exitBackupsInWay = 11
	exitConfigInWay  = 12
	exitUnresolved   = 13
	exitFailedUndone = 14
)

var command = cli.Command{
	Name:    "virtdev-move",
	Group:   cli.Lifecycle,
	Summary: "Rename a stopped project, with its backups, configuration and host key.",
	Description: `Renames a project whose machine is stopped. What follows it to the new name:
  the project directory   $VIRTDEV_HOME/projects/<name>: disks, UEFI variables,
                          the pinned host key (re-pinned under virtdev-<new-name>)
  its backups             $VIRTDEV_HOME/backups/<name>, each snapshot re-marked
                          as the new name's, so that virtdev-restore accepts it
  its configuration       ~/.config/virtdev/projects/<name>
The guest takes its new host name at its next boot.

The new name must be free: no project has it, and if the project has backups
or a configuration directory, the new name must not have its own (left by an
earlier project of that name). Where the project has none and the new name
has some, the project has them from now on; the program says so.

The move is atomic: a journal in $VIRTDEV_HOME/journals is written first and
the project directory is renamed last, so an interrupted move leaves the
project whole under one of its two names. The next virtdev-move, destroy or
detach of either name finishes or undoes it and says which.

stdout: the project's new directory.`,
	Args: []cli.Arg{
		{Name: "old-name", Kind: cli.ArgProject},
		{Name: "new-name", Kind: cli.ArgNewName},
	},
	Codes: []exitcode.Code{
		{N: 0, Meaning: "moved"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.StalePort, exitcode.Running,
		{N: exitTaken, Meaning: "the new name is taken by a project (or is the old name)"},
		{N: exitBackupsInWay, Meaning: "the new name has backups of its own, and so has the project"},
		{N: exitConfigInWay, Meaning: "the new name has a configuration directory of its own, and so has the project"},
		{N: exitUnresolved, Meaning: "an interrupted operation on either name can be neither finished nor undone (the message says what is where)"},
		{N: exitFailedUndone, Meaning: "the move failed and was undone: everything is under the old name"},
		exitcode.Output, exitcode.Locked, exitcode.Config, exitcode.NoUserManager, exitcode.Unusable, exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	from, to := args[0], args[1]
	if err := validate.ProjectName(from); err != nil {
		return err
	}
	if err := validate.NewProjectName(to); err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	if from == to {
		return cli.Errorf(exitTaken, "project %q already has that name\nGive a new name: virtdev-move %s <new-name>", from, from)
	}
	resumed := lifecycle.MovePending(l, from, to)
	s, err := lifecycle.Begin(env.Ctx, l, env.Name, lifecycle.Want{Project: from, Others: []string{to}}, env.Infof)
	if err != nil {
		return ownError(err)
	}
	defer s.Close()
	if _, err := project.Find(l, from); err != nil {
		// The very move an interrupted run began is finished now.
		if _, done := project.Find(l, to); resumed && done == nil && exitcode.For(err) == exitcode.NotFound.N {
			fmt.Fprintln(env.Stdout, l.Project(to).Dir)
			return nil
		}
		return err
	}

	r, err := lifecycle.Move(env.Ctx, l, s.Units, from, to, env.Infof)
	if err != nil {
		return ownError(err)
	}
	env.Infof("%s", env.Palette.Paint(fmt.Sprintf("Project %s is now %s", from, to), term.Green, false))
	for _, m := range r.Moved {
		env.Infof("    %s: %s -> %s", m.What, m.From, m.To)
	}
	env.Infof("    its host key: pinned under %s", sshx.Alias(to))
	for _, a := range r.Adopted {
		env.Infof("It has %s from now on: it was the new name's, and the project had none.", a)
	}
	env.Infof("The guest takes the host name %s at its next boot: virtdev-start %s", to, to)
	fmt.Fprintln(env.Stdout, l.Project(to).Dir)
	return nil
}

// ownError gives the lifecycle library's conditions this program's codes.
func ownError(err error) error {
	var (
		taken      *lifecycle.TakenError
		inTheWay   *lifecycle.InTheWayError
		failed     *lifecycle.MoveFailedError
		unresolved *lifecycle.UnresolvedError
		leftover   *lifecycle.LeftoverError
	)
	switch {
	case errors.As(err, &taken):
		return cli.Errorf(exitTaken, "%v", err)
	case errors.As(err, &inTheWay) && inTheWay.What == "backups":
		return cli.Errorf(exitBackupsInWay, "%v", err)
	case errors.As(err, &inTheWay):
		return cli.Errorf(exitConfigInWay, "%v", err)
	case errors.As(err, &failed):
		return cli.Errorf(exitFailedUndone, "%v", err)
	case errors.As(err, &unresolved), errors.As(err, &leftover):
		return cli.Wrap(exitUnresolved, err, "not moved")
	}
	return err
}
