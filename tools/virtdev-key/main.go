// Command virtdev-key generates the SSH key pair virtdev logs into its
// machines with.
//
//	virtdev-key [OPTIONS]
//
// An ed25519 pair in OpenSSH format at $VIRTDEV_SSH_KEY (mode 600) and
// $VIRTDEV_SSH_KEY.pub; an existing key is never replaced. stdout holds the
// public key's path, which a base build takes in.
//
// Exit codes: 0 generated; 3 a key (either file) already exists; 4 the key
// cannot be written; 64 usage; 81 bad configuration.
package main

import (
	"errors"
	"fmt"
	"os"

	"virtdev/lib/cli"
	"virtdev/lib/sshx"
)

const (
	exitExists = 3
	exitWrite  = 4
)

var command = cli.Command{
	Name:    "virtdev-key",
	Summary: "Generate the SSH key pair virtdev logs into machines with.",
	Description: `Writes a new ed25519 key pair in OpenSSH format, without a passphrase:
the private key at $VIRTDEV_SSH_KEY (default $VIRTDEV_HOME/ssh/id, mode 600)
and the public key beside it with .pub added. Missing directories are created
with mode 700. Prints the public key's path on stdout.

A base built afterwards (virtdev-bootstrap, virtdev-iso) authorizes the public
key for the guest user dev; virtdev-ssh and virtdev-wait log in with the
private one. An existing key is never replaced, and an interrupted run leaves
no partial key behind.

Exit codes: 0 generated; 3 a key already exists (either file); 4 the key
cannot be written; 64 usage; 81 malformed environment variable.`,
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if err := cli.Positionals(args, 0, 0); err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
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
