// Command virtdev-console attaches the terminal to a running machine's
// serial console.
//
//	virtdev-console [OPTIONS] <project>
//
// The terminal is put in raw mode, so every key goes to the guest, until
// Ctrl-] detaches and restores it. Without a terminal it refuses, unless
// --force relays standard input and output as they are.
package main

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	"virtdev/lib/cli"
	"virtdev/lib/console"
	"virtdev/lib/exitcode"
	"virtdev/lib/qemu"
	"virtdev/lib/state"
	"virtdev/lib/term"
	"virtdev/lib/unixsock"
)

const (
	exitNoTerminal = 10
	exitBusy       = 11
	exitConnect    = 12
	exitClosed     = 13
)

type options struct {
	Force bool `short:"f" long:"force" description:"attach without a terminal: relay standard input and output as they are"`
}

var opts options

// monitorLimit bounds the question whether someone is attached.
const monitorLimit = 2 * time.Second

var command = cli.Command{
	Name:    "virtdev-console",
	Group:   cli.Access,
	Summary: "Attach to a running machine's serial console (detach: Ctrl-]).",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgMachine}},
	Options: &opts,
	Description: `Attaches the terminal to the serial console of the machine of a project (or
of the maintenance machine, named maintenance): what the guest writes there (its
boot, its kernel's messages, a login prompt) appears on stdout, and every key
typed goes to the guest. The terminal is in raw mode meanwhile; Ctrl-]
detaches and puts it back. The console is where to look when SSH does not
answer. Press Enter for a prompt: the guest prints nothing until asked.

QEMU serves the console to one client at a time: while another is attached
(another virtdev-console, or any other program on the machine's console.sock),
it refuses, saying so.

Without a terminal on standard input it refuses too, since nothing could be
typed to detach; --force attaches anyway, relaying standard input and output
as they are, until the input ends or Ctrl-] comes in it.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "detached (Ctrl-], or the end of the input with --force)"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.StalePort, exitcode.CorruptPort,
		{N: exitNoTerminal, Meaning: "standard input is not a terminal, and --force was not given"},
		{N: exitBusy, Meaning: "another client is attached to the console"},
		{N: exitConnect, Meaning: "the console cannot be reached"},
		{N: exitClosed, Meaning: "the console closed while attached: the machine stopped"},
		exitcode.Config, exitcode.NoUserManager, exitcode.Unusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	_, m, err := env.Machine(args[0])
	if err != nil {
		return err
	}
	tty := term.IsTerminal(os.Stdin)
	if !tty && !opts.Force {
		return cli.Errorf(exitNoTerminal, "standard input is not a terminal: nothing could detach from the console of %s\nRun it from a terminal, or relay standard input and output as they are: virtdev-console --force %s", m.Name, m.Name)
	}
	if _, err := state.CheckRunning(env.Ctx, m); err != nil {
		return err
	}
	if err := checkFree(env, m.Name, m.Monitor, m.Console); err != nil {
		return err
	}
	conn, err := unixsock.Open(m.Console)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			if _, rerr := state.CheckRunning(env.Ctx, m); rerr != nil {
				return rerr
			}
		}
		return cli.Wrap(exitConnect, err, "cannot reach the console of %s", m.Name)
	}
	defer conn.Close()

	env.Infof("Attached to the serial console of %s; press Enter for a prompt. Detach with %s.", m.Name, console.EscapeName)
	restore := func() error { return nil }
	if tty {
		if restore, err = term.Raw(os.Stdin); err != nil {
			return cli.Wrap(exitNoTerminal, err, "cannot put the terminal in raw mode")
		}
		defer restore()
	}
	// A signal ends the relay the way QEMU's going away would, so that
	// the terminal is put back before the program ends.
	stop := context.AfterFunc(env.Ctx, func() { conn.Close() })
	how, err := console.Relay(conn, env.Stdin, env.Stdout)
	stop()
	restore()
	// What follows starts on a line of its own, whatever the guest left
	// on the last one.
	env.Infof("")
	switch {
	case env.Ctx.Err() != nil:
		return env.Ctx.Err()
	case err != nil:
		return cli.Wrap(exitConnect, err, "lost the console of %s", m.Name)
	case how == console.Closed:
		return cli.Errorf(exitClosed, "the console of %s closed: the machine stopped\nSee how it ended: virtdev-status %s", m.Name, m.Name)
	}
	env.Infof("Detached from the console of %s.", m.Name)
	return nil
}

// checkFree refuses a console another client holds: QEMU would queue this
// one silently until the other leaves. QEMU is asked over the monitor; a
// monitor that does not answer leaves the question open.
func checkFree(env *cli.Env, name, monitor, consolePath string) error {
	mon, err := qemu.Dial(env.Ctx, monitor, monitorLimit)
	if err != nil {
		env.Warnf("cannot ask QEMU whether someone is attached to the console of %s (%v); if nothing appears, someone is", name, err)
		return nil
	}
	defer mon.Close()
	used, err := mon.ChardevInUse(qemu.ConsoleChardev, monitorLimit)
	if err != nil {
		env.Warnf("cannot ask QEMU whether someone is attached to the console of %s (%v); if nothing appears, someone is", name, err)
		return nil
	}
	if used {
		return cli.Errorf(exitBusy, "someone is attached to the console of %s already, and QEMU serves it to one client at a time\nDetach the other one (Ctrl-] in virtdev-console), or see who holds it: fuser %s", name, consolePath)
	}
	return nil
}
