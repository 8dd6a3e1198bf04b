// Command virtdev-wait returns once a machine's SSH server lets dev in.
//
//	virtdev-wait [OPTIONS] <project>
//
// Each try is a real SSH handshake and public-key authentication on
// 127.0.0.1, one at a time (sshx.Probe tells how a slow guest is spared),
// for at most $VIRTDEV_WAIT_TIMEOUT seconds. It watches the machine
// meanwhile and fails within seconds when the machine stops, fails or is
// paused. stdout stays empty: success is the exit status.
package main

import (
	"errors"
	"time"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/qemu"
	"virtdev/lib/sshx"
	"virtdev/lib/unit"
)

const (
	exitTimeout = 10
	exitFailed  = 11
	exitStopped = 12
	exitKey     = 13
)

var command = cli.Command{
	Name:    "virtdev-wait",
	Group:   cli.Access,
	Summary: "Wait until a machine accepts SSH logins.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgMachine}},
	Description: `Returns once the machine of a project (or the maintenance machine, named
maintenance) lets dev log in over SSH with $VIRTDEV_SSH_KEY: every try is a
full SSH handshake and public-key authentication on its port on 127.0.0.1.
The first try is immediate, so a machine that is already up costs one
handshake; then one try at a time, a new one every 250 ms while the guest
refuses, each given a short time to be greeted, longer and longer while a
guest that has answered before stays silent, so as not to swamp a slow
guest. It gives up after $VIRTDEV_WAIT_TIMEOUT seconds (default 120). Every
try checks the server's host key against the one pinned in the machine's
known_hosts; another key ends the wait at once (88): what answers is not the
machine.

It watches the machine meanwhile, and gives up within seconds, saying what
it saw, when QEMU exits, when QEMU reports the guest failed (internal-error,
guest-panicked), or when QEMU paused the machine: io-error, when a disk
found the host file system full (it names that file system and the room
left on it), or paused, by a user through the monitor.

Nothing is printed on stdout; the exit status tells:
  virtdev-start p && virtdev-wait p && virtdev-ssh p -- bash -s < provision`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "SSH lets dev in"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.StalePort, exitcode.CorruptPort,
		{N: exitTimeout, Meaning: "SSH did not let dev in within VIRTDEV_WAIT_TIMEOUT"},
		{N: exitFailed, Meaning: "the machine failed: QEMU reports internal-error or guest-panicked"},
		{N: exitStopped, Meaning: "the machine stopped while waiting"},
		{N: exitKey, Meaning: "the SSH key cannot be read or has a passphrase"},
		exitcode.KeyMissing, exitcode.KeyPermissions, exitcode.Config, exitcode.NoUserManager,
		exitcode.Unusable, exitcode.Paused, exitcode.HostKeyMismatch,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	c, err := env.Config()
	if err != nil {
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
	signer, err := sshx.LoadSigner(t.Key)
	if err != nil {
		return cli.Errorf(exitKey, "cannot use the SSH key: %v", err)
	}
	units, err := unit.Connect(env.Ctx)
	if err != nil {
		return err
	}
	defer units.Close()

	start := time.Now()
	err = sshx.WaitReady(env.Ctx, t, units, signer, c.WaitTimeout)
	var (
		notReady *sshx.NotReadyError
		failed   *qemu.FailedError
		ended    *qemu.EndedError
	)
	switch {
	case err == nil:
		env.Infof("%s: SSH is up on port %d (%.1fs)", t.Name, t.Port, time.Since(start).Seconds())
		return nil
	case env.Ctx.Err() != nil:
		return env.Ctx.Err()
	case errors.As(err, &failed):
		return cli.Wrap(exitFailed, err, "after %.1fs of waiting for SSH", time.Since(start).Seconds())
	case errors.As(err, &ended):
		return cli.Wrap(exitStopped, err, "after %.1fs of waiting for SSH", time.Since(start).Seconds())
	case errors.As(err, &notReady):
		last := ""
		if notReady.Last != nil {
			last = "\nLast try: " + notReady.Last.Error()
		}
		return cli.Errorf(exitTimeout,
			"%s: SSH on port %d did not let dev in within %s (%d tries; VIRTDEV_WAIT_TIMEOUT sets the limit)%s\n"+
				"See the machine's log: journalctl --user -u %s\nWatch its console: virtdev-console %s",
			t.Name, t.Port, c.WaitTimeout, notReady.Attempts, last, t.Unit(), t.Name)
	}
	return err
}
