// Command virtdev-transfer copies files between the host and a running
// machine with rsync.
//
//	virtdev-transfer [OPTIONS] <project> <source> <destination>
//
// The side in the machine is written :path, relative to /home/dev. rsync
// connects over the same OpenSSH configuration as virtdev-ssh, triggers
// included; its failures are told apart by exit code.
package main

import (
	"context"
	"errors"
	"os"
	"strings"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/rsync"
	"virtdev/lib/sshx"
	"virtdev/lib/state"
	"virtdev/lib/term"
)

const (
	exitNoRemote   = 10
	exitBothRemote = 11
	exitMissing    = 12
	exitPartial    = 13
	exitTransport  = 14
	exitRsync      = 15
	exitConfig     = 16
)

type options struct {
	Verbose bool `short:"v" long:"verbose" description:"show the progress and name every file, even when stderr is not a terminal"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-transfer",
	Group:   cli.Access,
	Summary: "Copy files between the host and a running machine (rsync; :path is in the machine).",
	Args: []cli.Arg{
		{Name: "project", Kind: cli.ArgMachine},
		{Name: "source", Kind: cli.ArgTransfer},
		{Name: "destination", Kind: cli.ArgTransfer},
	},
	Options: &opts,
	Description: `Copies with rsync -a (permissions, times and symbolic links kept) between
the host and the machine of a project (or the maintenance machine, named
maintenance). The side in the machine starts with a colon; exactly one side
does. A relative path in the machine is relative to /home/dev:
  virtdev-transfer p notes.txt :            into /home/dev
  virtdev-transfer p ./src :work/src        a directory, as work/src/src
  virtdev-transfer p ./src/ :work/src       its contents, into work/src
  virtdev-transfer p :work/out.log .        from the machine
rsync's rule for a trailing slash applies: dir/ copies what dir holds, dir
the directory itself. Names with spaces, quotes or any other character need
no escaping: they reach the guest's rsync as they are, not through a shell.

rsync connects through ssh with the configuration virtdev-ssh assembles for
each connection (the pre-ssh triggers' output, ~/.config/virtdev's
ssh_config files, virtdev's defaults; never ~/.ssh/config): a failing pre-ssh
trigger refuses the transfer (80), and the post-ssh triggers run after it
with rsync's exit status in VIRTDEV_SSH_EXIT.

On a terminal, or with --verbose, rsync shows the progress of the whole
transfer on stderr; --verbose also names each file. stdout stays empty.
Files fully transferred stay where they arrived whatever happens; rsync's
own messages say which failed.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "copied"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.StalePort, exitcode.CorruptPort,
		{N: exitNoRemote, Meaning: "neither path is in the machine (start one with :)"},
		{N: exitBothRemote, Meaning: "both paths are in the machine"},
		{N: exitMissing, Meaning: "rsync or ssh is not installed"},
		{N: exitPartial, Meaning: "partial transfer: some files could not be copied, or vanished meanwhile (rsync 23, 24)"},
		{N: exitTransport, Meaning: "the SSH connection failed or broke (rsync 255, 5, 10, 12, 16, 30, 35)"},
		{N: exitRsync, Meaning: "rsync failed otherwise (its message says why)"},
		{N: exitConfig, Meaning: "the SSH configuration cannot be read or written"},
		exitcode.KeyMissing, exitcode.KeyPermissions, exitcode.TriggerRefused, exitcode.Config,
		exitcode.NoUserManager, exitcode.Unusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

// checkRunning checks the machine runs (state.CheckRunning); tests
// replace it, having no user manager.
var checkRunning = func(ctx context.Context, m layout.Machine) error {
	_, err := state.CheckRunning(ctx, m)
	return err
}

func run(env *cli.Env, args []string) error {
	l, err := env.Layout()
	if err != nil {
		return err
	}
	name, source, dest := args[0], args[1], args[2]
	t, err := sshx.Locate(l, name)
	if err != nil {
		return err
	}
	fromGuest, toGuest := strings.HasPrefix(source, ":"), strings.HasPrefix(dest, ":")
	switch {
	case !fromGuest && !toGuest:
		return cli.Errorf(exitNoRemote, "neither %q nor %q is in the machine\nStart the machine's side with a colon, e.g.: virtdev-transfer %s %s :%s", source, dest, name, source, dest)
	case fromGuest && toGuest:
		return cli.Errorf(exitBothRemote, "both %q and %q are in the machine; one side must be on the host\nTo copy within the machine: virtdev-ssh %s -- cp -a %s %s", source, dest, name, source[1:], dest[1:])
	}
	if err := checkRunning(env.Ctx, t.Machine); err != nil {
		return err
	}
	// Before the pre-ssh triggers: they must not fire for nothing.
	if err := rsync.Check(); err != nil {
		return cli.Errorf(exitMissing, "%v", err)
	}
	session, err := sshx.Prepare(env.Ctx, l, t, nil, os.Environ(), env.Stderr, env.Warnf)
	if err != nil {
		switch {
		case errors.Is(err, sshx.ErrNoSSH):
			return cli.Errorf(exitMissing, "%v", err)
		case env.Ctx.Err() != nil:
			return env.Ctx.Err()
		}
		if _, coded := exitcode.Of(err); coded {
			return err
		}
		return cli.Wrap(exitConfig, err, "cannot assemble the SSH configuration for %s", name)
	}
	defer session.Close()
	c := rsync.Command{
		SSHConfig: session.Config,
		Host:      t.Alias(),
		Options:   []string{"-a"},
		Progress:  opts.Verbose || term.IsTerminal(os.Stderr),
		Names:     opts.Verbose,
	}
	src, dst := rsync.Local(source), rsync.Local(dest)
	direction := "to"
	if fromGuest {
		src, direction = c.Remote(source[1:]), "from"
	} else {
		dst = c.Remote(dest[1:])
	}
	env.Infof("Copying %s %s: %s -> %s", direction, name, source, dest)
	err = c.Run(env.Ctx, []string{src}, dst, session.Env, env.Stderr)
	var failed *rsync.Error
	status := 0
	if errors.As(err, &failed) {
		status = failed.Status
	}
	if !errors.Is(err, rsync.ErrMissing) {
		session.Finish(env.Ctx, status, env.Stderr, env.Warnf)
	}
	switch {
	case err == nil:
		return nil
	case env.Ctx.Err() != nil:
		return env.Ctx.Err()
	case errors.Is(err, rsync.ErrMissing):
		return cli.Errorf(exitMissing, "%v", err)
	case failed == nil:
		return cli.Wrap(exitRsync, err, "cannot run rsync")
	}
	switch failed.Class {
	case rsync.Partial:
		return cli.Errorf(exitPartial, "not everything was copied %s %s: %v\nThe files rsync names above were not copied; the others were. Fix what it says and run the same command again: rsync copies only what is missing or changed.", direction, name, err)
	case rsync.Transport:
		return cli.Errorf(exitTransport, "the SSH connection to %s failed or broke: %v\nCheck it with: virtdev-ssh %s true", name, err, name)
	case rsync.Interrupted:
		return exitcode.Wrap(exitcode.Interrupted, err, "the copy %s %s was interrupted", direction, name)
	}
	return cli.Wrap(exitRsync, err, "rsync failed copying %s %s (its messages are above)", direction, name)
}
