// Command virtdev-wait returns once a machine's SSH server lets dev in.
//
//	virtdev-wait [OPTIONS] <project>
//
// Each try is a real SSH handshake and public-key authentication on
// 127.0.0.1, the first at once, then one every 250 ms (sshx.Probe tells how
// a slow guest is spared), for at most $VIRTDEV_WAIT_TIMEOUT seconds. It
// fails at once when the machine stops.
// stdout stays empty: success is the exit status.
//
// Exit codes: 0 ready; 2 invalid name; 3 not created; 4 not running (or
// stopped while waiting); 5 the unit is not running (or stopped while
// waiting); 6 corrupt port file; 8 timed out; 9 the key cannot be used;
// 64 usage; 77 key missing; 78 key permissions; 81 bad configuration;
// 82 systemd user manager unreachable; 130 interrupted.
package main

import (
	"errors"
	"time"

	"virtdev/lib/cli"
	"virtdev/lib/sshx"
)

const (
	exitTimeout = 8
	exitKey     = 9
)

var command = cli.Command{
	Name:     "virtdev-wait",
	Synopsis: "<project>",
	Summary:  "Wait until a machine accepts SSH logins.",
	Description: `Returns once the machine of a project (or the maintenance machine, named
maintenance) lets dev log in over SSH with $VIRTDEV_SSH_KEY: every try is a
full SSH handshake and public-key authentication on its port on 127.0.0.1.
The first try is immediate, so a machine that is already up costs one
handshake; then a new try starts every 250 ms while earlier ones wait on a
guest still booting (at most 4 waiting at once, one handshake at a time,
so as not to swamp a slow guest). It gives up after
$VIRTDEV_WAIT_TIMEOUT seconds (default 120), and at once when the machine
stops: its systemd unit goes down or its port file goes away.

Nothing is printed on stdout; the exit status tells:
  virtdev-start p && virtdev-wait p && virtdev-ssh p -- bash -s < provision

Exit codes: 0 ready; 2 invalid project name; 3 project not created;
4 not running, or stopped while waiting (no port file); 5 the unit is not
running, or stopped while waiting; 6 corrupt port file; 8 timed out; 9 the
SSH key cannot be read or has a passphrase; 64 usage; 77 SSH key missing;
78 SSH key permissions too open; 81 malformed environment variable;
82 the systemd user manager cannot be reached; 130 interrupted.`,
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if err := cli.Positionals(args, 1, 1); err != nil {
		return err
	}
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
	units, err := sshx.Connect(env.Ctx)
	if err != nil {
		return err
	}
	defer units.Close()

	start := time.Now()
	err = sshx.WaitReady(env.Ctx, t, units, signer, c.WaitTimeout)
	var nr *sshx.NotReadyError
	switch {
	case err == nil:
		env.Infof("%s: SSH is up on port %d (%.1fs)", t.Name, t.Port, time.Since(start).Seconds())
		return nil
	case env.Ctx.Err() != nil:
		return env.Ctx.Err()
	case errors.As(err, &nr):
		last := ""
		if nr.Last != nil {
			last = "\nLast try: " + nr.Last.Error()
		}
		return cli.Errorf(exitTimeout,
			"%s: SSH on port %d did not let dev in within %s (%d tries; VIRTDEV_WAIT_TIMEOUT sets the limit)%s\n"+
				"See the machine's log: journalctl --user -u %s\nWatch its console: virtdev-console %s",
			t.Name, t.Port, c.WaitTimeout, nr.Attempts, last, t.Unit(), t.Name)
	}
	return err
}
