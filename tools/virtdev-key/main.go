// Command virtdev-key generates the SSH key pair virtdev logs into its
// machines with.
//
//	virtdev-key [OPTIONS]
//
// An ed25519 pair in OpenSSH format at $VIRTDEV_SSH_KEY (mode 600) and
// $VIRTDEV_SSH_KEY.pub; an existing key is never replaced. stdout holds the
// public key's path, which a base build takes in.
//
// It holds the base lock exclusively: every base authorizes this key, and
// while it holds the lock no other virtdev-key runs, so it may put right
// what one killed on the way left (its temporary files).
package main

import (
	"errors"
	"fmt"
	"os"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/lock"
	"virtdev/lib/sshx"
)

const (
	exitExists = 10
	exitWrite  = 11
)

var command = cli.Command{
	Name:    "virtdev-key",
	Group:   cli.Setup,
	Summary: "Generate the SSH key pair virtdev logs into machines with.",
	Description: `Writes a new ed25519 key pair in OpenSSH format, without a passphrase:
the private key at $VIRTDEV_SSH_KEY (default $VIRTDEV_HOME/ssh/id, mode 600)
and the public key beside it with .pub added. Missing directories are created
with mode 700. Prints the public key's path on stdout.

A base built afterwards (virtdev-bootstrap, virtdev-iso) authorizes the public
key for the guest user dev; virtdev-ssh and virtdev-wait log in with the
private one. An existing key is never replaced, and an interrupted run leaves
no partial key behind: one killed on the way is completed, or its temporary
files removed, by the next virtdev-key.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "generated"},
		{N: exitExists, Meaning: "a key already exists (either file)"},
		{N: exitWrite, Meaning: "the key cannot be written"},
		exitcode.Output, exitcode.Locked, exitcode.Config, exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, _ []string) error {
	l, err := env.Layout()
	if err != nil {
		return err
	}
	held, err := lock.Base(l, env.Name, lock.Exclusive)
	if err != nil {
		return err
	}
	defer held.Release()

	done, completed, err := sshx.RecoverKey(l.SSHKey, l.SSHPublicKey())
	for _, d := range done {
		env.Warnf("%s", d)
	}
	if err != nil {
		return cli.Wrap(exitWrite, err, "cannot put right what an interrupted virtdev-key left beside %s", l.SSHKey)
	}
	if completed {
		fmt.Fprintln(env.Stdout, l.SSHPublicKey())
		return nil
	}

	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	err = sshx.GenerateKey(l.SSHKey, l.SSHPublicKey(), "virtdev@"+host)
	var exists *sshx.KeyExistsError
	switch {
	case errors.As(err, &exists) && exists.Path == l.SSHKey:
		if _, err := os.Stat(l.SSHPublicKey()); err != nil {
			return cli.Errorf(exitExists,
				"an SSH key already exists: %s, but not its public key %s\nRecreate the public key with: ssh-keygen -y -f %s > %s",
				l.SSHKey, l.SSHPublicKey(), l.SSHKey, l.SSHPublicKey())
		}
		return cli.Errorf(exitExists,
			"an SSH key already exists: %s\nvirtdev-key never replaces a key: bases authorize it. To use it, do nothing;\nto start over, move both files away first (and rebuild the base).", l.SSHKey)
	case errors.As(err, &exists):
		return cli.Errorf(exitExists,
			"a public key exists without its private key: %s\nMove it away and run virtdev-key again, or put the matching private key at %s", exists.Path, l.SSHKey)
	case err != nil:
		return cli.Wrap(exitWrite, err, "cannot write the SSH key %s", l.SSHKey)
	}
	env.Infof("SSH key generated: %s", l.SSHKey)
	fmt.Fprintln(env.Stdout, l.SSHPublicKey())
	return nil
}
