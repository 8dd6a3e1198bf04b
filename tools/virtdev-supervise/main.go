// Command virtdev-supervise runs a machine's QEMU as the main process of
// the machine's systemd user unit, and records how the machine ended.
//
//	virtdev-supervise [OPTIONS] -- <qemu> [argument...]
//
// virtdev-start makes it the main process of the transient unit
// virtdev-<name>.service (Type=notify), working in the machine's
// directory; people do not run it. It exits with QEMU's status.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/qemu"
	"virtdev/lib/unit"
)

const (
	exitLaunch    = 10
	exitSilent    = 11
	exitRecord    = 12
	exitNoMachine = 13
)

var command = cli.Command{
	Name:    "virtdev-supervise",
	Group:   cli.Internal,
	Summary: "Run a machine's QEMU for its systemd unit, and record how the machine ended.",
	Description: `virtdev-start runs it as the main process of the machine's unit
virtdev-<name>.service, in the machine's directory, with QEMU's command line
after "--". It starts QEMU as its child (QEMU cannot outlive it), tells
systemd the machine is up once QEMU answers on its QMP socket events.sock,
and follows QEMU's events there. When QEMU has exited it writes the machine's
shutdown record (clean, forced or unknown, from QEMU's SHUTDOWN event; QEMU's
exit status and last messages), removes the machine's runtime files (port,
sockets, qemu.pid), and exits with QEMU's status: 128+n when signal n ended
QEMU. SIGTERM, SIGINT and SIGHUP are passed on to QEMU as SIGTERM; the
supervisor itself leaves only after QEMU.

Its messages and QEMU's are in the unit's journal:
  journalctl --user -u virtdev-<name>`,
	Args: []cli.Arg{
		{Name: "qemu", Kind: cli.ArgFile},
		{Name: "argument", Kind: cli.ArgText, Optional: true, Repeat: true},
	},
	Codes: []exitcode.Code{
		{N: 0, Meaning: "QEMU exited with status 0; otherwise its status is passed on"},
		{N: exitLaunch, Meaning: "QEMU could not be started"},
		{N: exitSilent, Meaning: "QEMU did not answer on QMP in time, and was killed"},
		{N: exitRecord, Meaning: "how the machine ended could not be recorded, or its runtime files removed"},
		{N: exitNoMachine, Meaning: "the working directory is not a machine's directory"},
	},
	// QEMU's own status is passed on, whatever it is.
	PassThrough: true,
	// The supervisor handles SIGINT, SIGTERM and SIGHUP itself for as long
	// as it lives, which is longer than QEMU: the frame must not make a
	// second one end it.
	OwnSignals: true,
	Run:        run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	dir, err := os.Getwd()
	if err != nil {
		return cli.Wrap(exitNoMachine, err, "cannot tell the machine's directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "nvram")); err != nil {
		return cli.Errorf(exitNoMachine, "%s is not a machine's directory (it has no nvram): virtdev-supervise runs in the directory of the machine whose QEMU it runs; virtdev-start starts it there", dir)
	}
	m := layout.MachineAt(filepath.Base(dir), dir)
	sup, err := qemu.Supervise(context.Background(), m, args, qemu.SuperviseOptions{
		Notify:        unit.Notify,
		Log:           env.Stderr,
		ReadyDeadline: qemu.ReadyDeadline,
	})
	var (
		launch *qemu.LaunchError
		silent *qemu.SilentError
	)
	switch {
	case errors.As(err, &launch):
		return cli.Errorf(exitLaunch, "%v\nThe command line is virtdev-start's; reinstall virtdev if QEMU or its path changed.", err)
	case errors.As(err, &silent):
		return cli.Errorf(exitSilent, "%v\nQEMU's messages are above.", err)
	case err != nil:
		return cli.Errorf(exitRecord, "%v", err)
	}
	fmt.Fprintf(env.Stderr, "virtdev-supervise: the machine ended: %s\n", sup.Record.Describe())
	return cli.Exit(sup.Status)
}
