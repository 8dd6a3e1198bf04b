// Command virtdev-ssh connects to a running machine with OpenSSH.
//
//	virtdev-ssh [OPTIONS] <project> [ssh arguments...]
//
// It checks that the machine runs and the key is usable, fires the pre-ssh
// triggers, assembles an OpenSSH configuration (never the user's
// ~/.ssh/config) and replaces itself with ssh. When a post-ssh trigger
// exists it runs ssh as a child instead, to fire the trigger afterwards.
//
// Exit codes: 2 invalid name; 3 not created; 4 not running; 5 port file
// stale (unit not running); 6 corrupt port file; 8 ssh missing or cannot
// run; 9 configuration cannot be read or written; 64 usage; 77 key missing;
// 78 key permissions; 80 a pre-ssh trigger refused; 81 bad configuration;
// 82 systemd user manager unreachable; otherwise ssh's own status.
package main

import (
	"context"
	"errors"
	"os"

	"virtdev/lib/cli"
	"virtdev/lib/sshx"
)

const (
	exitSSH    = 8
	exitConfig = 9
)

var command = cli.Command{
	Name:     "virtdev-ssh",
	Synopsis: "<project> [ssh arguments...]",
	Summary:  "Connect to a running machine with OpenSSH.",
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
    and the guest's host key pinned at first contact
The host is named virtdev-<project>, for Host blocks. The maintenance machine
has only the system sources. The assembled file is kept as ssh_config in the
machine's directory (virtdev-path <project>) for inspection.

Triggers (~/.config/virtdev/triggers/<event>, then
~/.config/virtdev/projects/<project>/triggers/<event>) are executable files run
with VIRTDEV_PROJECT, VIRTDEV_PORT and VIRTDEV_SSH_KEY set and no standard
input. pre-ssh: its stdout is configuration; a non-zero exit refuses the
connection (80). post-ssh: runs after ssh ends with VIRTDEV_SSH_EXIT set; its
stdout is discarded and a failure is only a warning. Without a post-ssh
trigger virtdev-ssh becomes ssh; with one, ssh runs as its child and its exit
status is passed on.

Exit codes: 2 invalid project name; 3 project not created; 4 not running
(no port file); 5 the port file is stale (the unit is not running);
6 corrupt port file; 8 ssh is missing or cannot be run; 9 the SSH
configuration cannot be read or written; 64 usage; 77 SSH key missing;
78 SSH key permissions too open; 80 a pre-ssh trigger refused the
connection; 81 malformed environment variable; 82 the systemd user manager
cannot be reached.
Otherwise the status is ssh's: 255 for an SSH failure, else the remote
command's.`,
	PassThrough: true,
	Run:         run,
}

func main() { cli.Main(command) }

// checkRunning asks systemd whether the machine's unit runs; tests replace
// it, having no user manager.
var checkRunning = func(ctx context.Context, t sshx.Target) error {
	units, err := sshx.Connect(ctx)
	if err != nil {
		return err
	}
	defer units.Close()
	return sshx.CheckRunning(ctx, units, t)
}

func run(env *cli.Env, args []string) error {
	if err := cli.Positionals(args, 1, -1); err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	t, err := sshx.Locate(l, args[0])
	if err != nil {
		return err
	}
	if err := checkRunning(env.Ctx, t); err != nil {
		return err
	}
	session, err := sshx.Prepare(env.Ctx, l, t, args[1:], os.Environ(), env.Stderr, env.Warnf)
	if err != nil {
		var e *cli.Error
		switch {
		case errors.As(err, &e):
			return e
		case errors.Is(err, sshx.ErrNoSSH):
			return cli.Errorf(exitSSH, "%v", err)
		case env.Ctx.Err() != nil:
			return env.Ctx.Err()
		}
		return cli.Wrap(exitConfig, err, "cannot assemble the SSH configuration for %s", t.Name)
	}
	if len(session.Post) == 0 {
		return cli.Wrap(exitSSH, session.Exec(), "cannot run %s", session.SSH)
	}
	status, err := session.Run()
	if err != nil {
		return cli.Wrap(exitSSH, err, "cannot run %s", session.SSH)
	}
	session.Finish(env.Ctx, status, env.Stderr, env.Warnf)
	return cli.Exit(status)
}
