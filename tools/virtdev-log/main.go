// Command virtdev-log shows the journal of a machine's unit.
//
//	virtdev-log [OPTIONS] <project>
//
// It runs journalctl --user -u virtdev-<project>.service, after checking
// there is a journal to read: where the user's units have none, it says
// so and what to look at instead, rather than print nothing.
package main

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/unit"
)

const (
	exitNoJournal  = 10
	exitJournalctl = 11
)

type options struct {
	Follow bool `short:"f" long:"follow" description:"show new entries as they come, until interrupted"`
	Lines  int  `short:"n" long:"lines" value-name:"N" description:"show only the last N entries"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-log",
	Group:   cli.Inspection,
	Summary: "Show the journal of a machine's unit (journalctl).",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgMachine}},
	Options: &opts,
	Description: `Shows the journal of the unit virtdev-<project>.service that runs the machine
of a project (or the maintenance machine, named maintenance): QEMU's messages
and its supervisor's account of the machine's life (start, events, how QEMU
ended), from past runs too. It is journalctl --user -u virtdev-<project>.service
--no-hostname, with -f and -n passed on; journalctl's exit status is its own.

Where systemd-journald does not run for the user's units and no journal files
are left from a time it did, there is nothing to show: journalctl would print
nothing and succeed. virtdev-log says so instead (exit 10), and what shows the
machine without a journal: virtdev-console <project> (the guest's console),
systemctl --user status virtdev-<project>.service (the unit), and the record
of how the machine last ended, with QEMU's last messages
($(virtdev-path <project> shutdown)).`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "shown; otherwise journalctl's own status is passed on"},
		exitcode.InvalidName, exitcode.NotFound,
		{N: exitNoJournal, Meaning: "there is no journal of the user's units to read"},
		{N: exitJournalctl, Meaning: "journalctl is not installed, or cannot be run"},
		exitcode.Config, exitcode.Unusable,
	},
	Query: true,
	Run:   run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	_, m, err := env.Machine(args[0])
	if err != nil {
		return err
	}
	if opts.Lines < 0 {
		return cli.Usage("-n takes a number of entries, 0 or more, not %d", opts.Lines)
	}
	name := layout.Unit(m.Name)
	journalctl, err := unit.CheckJournal(env.Ctx)
	switch {
	case errors.Is(err, unit.ErrNoJournal):
		return cli.Errorf(exitNoJournal, "nothing to show for %s: %v\n"+
			"What shows the machine without a journal:\n"+
			"  its serial console (boot and kernel messages): virtdev-console %s\n"+
			"  its unit: systemctl --user status %s\n"+
			"  how it last ended, with QEMU's last messages: cat %s",
			m.Name, err, m.Name, name, m.Shutdown)
	case err != nil:
		return cli.Wrap(exitJournalctl, err, "cannot read the journal of %s", m.Name)
	}
	argv := []string{"journalctl", "--user", "--unit", name, "--no-hostname"}
	if opts.Follow {
		argv = append(argv, "--follow")
	}
	if opts.Lines > 0 {
		argv = append(argv, "--lines", strconv.Itoa(opts.Lines))
	}
	// journalctl takes over: its pager, its handling of signals, its
	// exit status.
	err = syscall.Exec(journalctl, argv, os.Environ())
	return cli.Wrap(exitJournalctl, err, "cannot run %s", journalctl)
}
