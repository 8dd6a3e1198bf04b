// Command virtdev-ssh connects to a running machine with OpenSSH.
//
//	virtdev-ssh [OPTIONS] <project> [ssh arguments...]
//
// It checks that the machine runs (a machine QEMU paused, or whose guest
// failed, is refused at once: ssh would hang) and the key is usable, fires
// the pre-ssh triggers, assembles an OpenSSH configuration for this
// connection alone (never the user's ~/.ssh/config), runs ssh as its child,
// fires the post-ssh triggers and passes ssh's exit status on.
package main

import (
	"context"
	"errors"
	"os"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/qemu"
	"virtdev/lib/sshx"
	"virtdev/lib/unit"
)

const (
	exitSSH    = 10
	exitConfig = 11
	exitFailed = 12
)

// sshFailed is ssh's own status for a failure of its own, a refused host
// key among them.
const sshFailed = 255

var command = cli.Command{
	Name:    "virtdev-ssh",
	Group:   cli.Access,
	Summary: "Connect to a running machine with OpenSSH.",
	Args: []cli.Arg{
		{Name: "project", Kind: cli.ArgMachine},
		{Name: "ssh-argument", Kind: cli.ArgSSH, Optional: true, Repeat: true},
	},
	Description: `Connects as dev to the machine of a project (or to the maintenance machine,
named maintenance) over its SSH port on 127.0.0.1. Arguments after the project
go to ssh: a command to run, or ssh options; "--" before them keeps virtdev-ssh
from reading them:
  virtdev-ssh p                      a login shell
  virtdev-ssh p hostname             run a command
  virtdev-ssh p -- bash -s < script  feed a script
  virtdev-ssh p -L 3000:localhost:3000

ssh gets a configuration virtdev assembles, never ~/.ssh/config (its agent
forwarding and connection sharing have no business with an untrusted guest).
From highest priority to lowest, as ssh keeps the first value it reads:
  the machine's address and port (only virtdev knows them)
  the project's pre-ssh trigger output
  the system pre-ssh trigger output
  ~/.config/virtdev/projects/<project>/ssh_config
  ~/.config/virtdev/ssh_config
  virtdev's defaults: User dev, IdentityFile $VIRTDEV_SSH_KEY,
    IdentitiesOnly yes, no agent or X11 forwarding, no connection sharing,
    and strict host key checking against the key pinned in the machine's
    known_hosts
The host is named virtdev-<project>, for Host blocks. The maintenance machine
has only the system sources. Each connection has a file of its own, mode 600,
in the machine's directory (ssh_config.<random>), removed when ssh ends, so
that connections at once never read each other's trigger output.

Triggers (~/.config/virtdev/triggers/<event>, then
~/.config/virtdev/projects/<project>/triggers/<event>) are executable files run
with VIRTDEV_PROJECT, VIRTDEV_PORT and VIRTDEV_SSH_KEY set and no standard
input. pre-ssh: its stdout is configuration; a non-zero exit refuses the
connection (80); a process it leaves in the background is not waited for.
post-ssh: runs after ssh ends with VIRTDEV_SSH_EXIT set, for at most 30
seconds; its stdout is discarded and a failure is only a warning.

Before connecting it asks QEMU how the machine is: a machine QEMU paused
(a full host disk, or a user through the monitor) or whose guest failed
cannot answer, and ssh would hang; it is refused at once, saying why.

The guest's host key was made on the host when the project was created and
pinned before its first boot: ssh refuses any other key, from the first
connection on. When ssh fails (status 255), virtdev-ssh asks the server for
its key, and a key other than the pinned one is reported with its own code
(88) and what to check, rather than as any SSH failure.

ssh runs as a child; signals sent to virtdev-ssh are passed on to it, and a
second interrupt ends virtdev-ssh at once. Unless virtdev-ssh fails itself,
its exit status is ssh's: 255 for an SSH failure, else the remote command's.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "ssh succeeded; otherwise ssh's own status is passed on"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.StalePort, exitcode.CorruptPort,
		{N: exitSSH, Meaning: "ssh is missing or cannot be run"},
		{N: exitConfig, Meaning: "the SSH configuration cannot be read or written"},
		{N: exitFailed, Meaning: "the machine failed: QEMU reports internal-error or guest-panicked"},
		exitcode.KeyMissing, exitcode.KeyPermissions, exitcode.TriggerRefused, exitcode.Config,
		exitcode.NoUserManager, exitcode.Unusable, exitcode.Paused, exitcode.HostKeyMismatch,
	},
	PassThrough: true,
	Run:         run,
}

func main() { cli.Main(command) }

// checkRunning asks systemd whether the machine's unit runs; tests replace
// it, having no user manager.
var checkRunning = func(ctx context.Context, t sshx.Target) error {
	units, err := unit.Connect(ctx)
	if err != nil {
		return err
	}
	defer units.Close()
	return sshx.CheckRunning(ctx, units, t)
}

func run(env *cli.Env, args []string) error {
	l, err := env.Layout()
	if err != nil {
		return err
	}
	t, err := sshx.Locate(l, args[0])
	if err != nil {
		return err
	}
	if err := checkRunning(env.Ctx, t); err != nil {
		var failed *qemu.FailedError
		if errors.As(err, &failed) {
			return cli.Errorf(exitFailed, "%v", err)
		}
		return err
	}
	session, err := sshx.Prepare(env.Ctx, l, t, args[1:], os.Environ(), env.Stderr, env.Warnf)
	if err != nil {
		switch {
		case errors.Is(err, sshx.ErrNoSSH):
			return cli.Errorf(exitSSH, "%v", err)
		case env.Ctx.Err() != nil:
			return env.Ctx.Err()
		}
		if _, coded := exitcode.Of(err); coded {
			return err
		}
		return cli.Wrap(exitConfig, err, "cannot assemble the SSH configuration for %s", t.Name)
	}
	defer session.Close()
	status, err := session.Run()
	if err != nil {
		return cli.Wrap(exitSSH, err, "cannot run %s", session.SSH)
	}
	session.Finish(env.Ctx, status, env.Stderr, env.Warnf)
	if status == sshFailed {
		if err := sshx.CheckHostKey(env.Ctx, t); err != nil {
			return err
		}
	}
	return cli.Exit(status)
}
