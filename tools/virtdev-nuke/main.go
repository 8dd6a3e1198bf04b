// Command virtdev-nuke deletes all of virtdev's data.
//
//	virtdev-nuke [OPTIONS]
//
// It removes VIRTDEV_HOME (projects, backups, the base, the key) and
// VIRTDEV_CACHE, after the user types "nuke", and never the configuration
// in ~/.config/virtdev. stdout: the directories removed, one per line.
package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/lifecycle"
	"virtdev/lib/lock"
	"virtdev/lib/prompt"
	"virtdev/lib/term"
	"virtdev/lib/unit"
)

const (
	exitNeedsConfirmation = 10
	exitDeclined          = 11
	exitForeign           = 12
	exitLeftover          = 13
)

type options struct {
	Yes bool `short:"y" long:"yes" description:"delete without asking (needed when standard input is not a terminal)"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-nuke",
	Group:   cli.Lifecycle,
	Summary: "Delete all virtdev data (never the configuration in ~/.config/virtdev).",
	Description: `Deletes VIRTDEV_HOME (every project and its disks, every backup, the sealed
base, the SSH key) and VIRTDEV_CACHE. The configuration in ~/.config/virtdev
(manifests, provision scripts, ssh_config, triggers) is never touched.

No machine of this VIRTDEV_HOME may run: not a project's, not the maintenance
machine, nor any virtdev unit whose command names a file in VIRTDEV_HOME.

A directory that holds anything virtdev does not make, or that holds the
configuration directory or your home directory, is refused whole: the
variable naming it points somewhere it should not.

It lists what it deletes and asks to type the word nuke; --yes skips the
question, which a program reading no terminal must give. Each directory is
renamed to a hidden name beside it before it is removed, so it is gone in
one step; the next virtdev-nuke removes what an interrupted one left.

stdout: each directory removed, one per line.`,
	Options: &opts,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "deleted (or there was nothing to delete)"},
		exitcode.StalePort, exitcode.Running,
		{N: exitNeedsConfirmation, Meaning: "confirmation needed: standard input is not a terminal and --yes was not given"},
		{N: exitDeclined, Meaning: "not confirmed: the word typed was not nuke"},
		{N: exitForeign, Meaning: "VIRTDEV_HOME or VIRTDEV_CACHE holds what virtdev does not make, or the configuration or home directory"},
		{N: exitLeftover, Meaning: "deleting failed partway (the message says what is left)"},
		exitcode.Output, exitcode.Locked, exitcode.Config, exitcode.NoUserManager, exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	areas := lifecycle.Areas(l, cfg.ISO)
	// Before any lock: taking one makes a lock file in VIRTDEV_HOME.
	for _, a := range areas {
		if err := lifecycle.CheckForeign(a, l.ConfigDir, env.Getenv("HOME")); err != nil {
			return cli.Errorf(exitForeign, "%v", err)
		}
	}
	var present []lifecycle.Area
	for _, a := range areas {
		if _, err := os.Lstat(a.Dir); err == nil {
			present = append(present, a)
		}
	}
	if slices.ContainsFunc(present, func(a lifecycle.Area) bool { return a.Dir == l.Home }) {
		release, err := stopEverything(env, l)
		if err != nil {
			return err
		}
		defer release()
	}

	describe(env, l, present)
	if !opts.Yes && len(present) > 0 {
		ok, err := env.Prompt.Word("Delete all virtdev data?", "nuke")
		switch {
		case errors.Is(err, prompt.ErrNotInteractive):
			return cli.Errorf(exitNeedsConfirmation, "nothing deleted: confirmation is needed, and standard input is not a terminal\nTo delete everything without a question: virtdev-nuke --yes")
		case err != nil || !ok:
			return cli.Errorf(exitDeclined, "nothing deleted: the word typed was not nuke")
		}
	}
	for _, a := range areas {
		removed, err := lifecycle.Remove(a, env.Infof)
		if removed {
			fmt.Fprintln(env.Stdout, a.Dir)
		}
		if err != nil {
			return cli.Wrap(exitLeftover, err, "%s is gone only in part", a.Variable)
		}
	}
	env.Infof("%s", env.Palette.Paint("All virtdev data deleted; the configuration in "+l.ConfigDir+" is kept", term.Green, false))
	return nil
}

// stopEverything takes the base lock exclusively and every project's lock,
// so that nothing starts or changes while the data goes, and refuses while
// any machine runs. release lets them go.
func stopEverything(env *cli.Env, l layout.Layout) (release func(), err error) {
	base, err := lock.Base(l, env.Name, lock.Exclusive)
	if err != nil {
		return nil, err
	}
	names, err := lifecycle.ProjectNames(l)
	if err != nil {
		base.Release()
		return nil, err
	}
	locks, err := lifecycle.LockProjects(l, env.Name, names...)
	if err != nil {
		base.Release()
		return nil, err
	}
	release = func() {
		locks.Release()
		base.Release()
	}
	units, err := unit.Connect(env.Ctx)
	if err != nil {
		release()
		return nil, err
	}
	defer units.Close()
	if err := lifecycle.CheckNoneRunning(env.Ctx, l, units); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// describe says what goes and what stays, on stderr.
func describe(env *cli.Env, l layout.Layout, present []lifecycle.Area) {
	if len(present) == 0 {
		env.Infof("Nothing to delete: neither %s nor %s exists.", l.Home, l.Cache)
		return
	}
	var b strings.Builder
	b.WriteString("This deletes all virtdev data:\n")
	for _, a := range present {
		fmt.Fprintf(&b, "    %10s  %s (%s)\n", fsutil.SizeText(lifecycle.Size(a.Dir)), a.Dir, a.Variable)
	}
	if names, _ := lifecycle.ProjectNames(l); len(names) > 0 {
		fmt.Fprintf(&b, "Projects: %s\n", strings.Join(names, ", "))
	}
	counts := lifecycle.BackupCounts(l)
	var owners []string
	for p := range counts {
		owners = append(owners, p)
	}
	slices.Sort(owners)
	for _, p := range owners {
		fmt.Fprintf(&b, "Backups of %s: %d snapshot(s)\n", p, counts[p])
	}
	fmt.Fprintf(&b, "Kept: the configuration in %s\nThis cannot be undone.", l.ConfigDir)
	env.Infof("%s", b.String())
}
