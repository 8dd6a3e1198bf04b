// Command virtdev-destroy deletes a project's machine.
//
//	virtdev-destroy [OPTIONS] <project>
//
// It removes the project directory (disks, firmware variables, runtime
// records) and what systemd remembers of the machine's unit, after the
// user types the project name. The project's backups and its configuration
// in ~/.config/virtdev stay. stdout: the removed directory.
package main

import (
	"errors"
	"fmt"
	"strings"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/lifecycle"
	"virtdev/lib/project"
	"virtdev/lib/prompt"
	"virtdev/lib/term"
	"virtdev/lib/validate"
)

const (
	exitNeedsConfirmation = 10
	exitDeclined          = 11
	exitLeftover          = 12
	exitUnresolved        = 13
)

type options struct {
	Yes bool `short:"y" long:"yes" description:"destroy without asking (needed when standard input is not a terminal)"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-destroy",
	Group:   cli.Lifecycle,
	Summary: "Delete a project's machine; its backups and configuration stay.",
	Description: `Removes $VIRTDEV_HOME/projects/<project> (its disks, UEFI variables and
runtime records) and the leftover state of its unit virtdev-<project>.service.
The machine must be stopped. Its backups ($VIRTDEV_HOME/backups/<project>) and
its configuration (~/.config/virtdev/projects/<project>) stay, for a project
made again under the same name.

It lists what it removes and asks to type the project name; --yes skips the
question, which a program reading no terminal must give.

The directory is renamed to a hidden name first, so the project is gone in
one step; a removal cut short is finished by the next virtdev-destroy of the
name. stdout: the removed project directory.`,
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgProject}},
	Options: &opts,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "destroyed"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.StalePort, exitcode.Running,
		{N: exitNeedsConfirmation, Meaning: "confirmation needed: standard input is not a terminal and --yes was not given"},
		{N: exitDeclined, Meaning: "not confirmed: the name typed was not the project's"},
		{N: exitLeftover, Meaning: "destroyed, but some of its files could not be removed (the message says where they are)"},
		{N: exitUnresolved, Meaning: "an interrupted move of the project can be neither finished nor undone"},
		exitcode.Output, exitcode.Locked, exitcode.Config, exitcode.NoUserManager, exitcode.Unusable, exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	name := args[0]
	if err := validate.ProjectName(name); err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	resumed := lifecycle.DestroyPending(l, name)
	s, err := lifecycle.Begin(env.Ctx, l, env.Name, lifecycle.Want{Project: name}, env.Infof)
	if err != nil {
		return ownError(err)
	}
	defer s.Close()
	m, err := project.Find(l, name)
	if resumed && exitcode.For(err) == exitcode.NotFound.N {
		// An interrupted destroy of this very project, now finished.
		fmt.Fprintln(env.Stdout, m.Dir)
		return nil
	}
	if err != nil {
		return err
	}
	if err := lifecycle.CheckStopped(env.Ctx, s.Units, m); err != nil {
		return err
	}

	describe(env, lifecycle.SurveyProject(l, name))
	if !opts.Yes {
		ok, err := env.Prompt.Word("Destroy project "+name+"?", name)
		switch {
		case errors.Is(err, prompt.ErrNotInteractive):
			return cli.Errorf(exitNeedsConfirmation, "not destroyed: confirmation is needed, and standard input is not a terminal\nTo destroy %s without a question: virtdev-destroy --yes %s", name, name)
		case err != nil || !ok:
			return cli.Errorf(exitDeclined, "not destroyed: the name typed was not %q", name)
		}
	}
	if err := lifecycle.Destroy(env.Ctx, l, s.Units, name, env.Infof); err != nil {
		return ownError(err)
	}
	env.Infof("%s", env.Palette.Paint("Project "+name+" destroyed", term.Green, false))
	fmt.Fprintln(env.Stdout, m.Dir)
	return nil
}

// describe lists what goes and what stays, on stderr.
func describe(env *cli.Env, s lifecycle.Survey) {
	var b strings.Builder
	fmt.Fprintf(&b, "This deletes %s and everything in it:\n", s.Dir)
	var total int64
	for _, f := range s.Files {
		fmt.Fprintf(&b, "    %10s  %s\n", fsutil.SizeText(f.Size), strings.TrimPrefix(f.Path, s.Dir+"/"))
		total += f.Size
	}
	fmt.Fprintf(&b, "    %10s  in all\n", fsutil.SizeText(total))
	if s.Snapshots > 0 {
		fmt.Fprintf(&b, "Kept: %d backup snapshot(s) in %s\n", s.Snapshots, s.Backups)
	}
	if s.Config != "" {
		fmt.Fprintf(&b, "Kept: the configuration in %s\n", s.Config)
	}
	b.WriteString("This cannot be undone.")
	env.Infof("%s", b.String())
}

// ownError gives the lifecycle library's conditions this program's codes.
func ownError(err error) error {
	var (
		leftover   *lifecycle.LeftoverError
		unresolved *lifecycle.UnresolvedError
	)
	switch {
	case errors.As(err, &leftover):
		return cli.Wrap(exitLeftover, err, "the project is destroyed, but not all of its files are removed")
	case errors.As(err, &unresolved):
		return cli.Wrap(exitUnresolved, err, "not destroyed")
	}
	return err
}
