// Command virtdev-status prints what a machine is doing, in one word.
//
//	virtdev-status [OPTIONS] <project>
//
// stdout holds the word (running, stopped, starting, stopping, paused or
// failed), for scripts: [ "$(virtdev-status p)" = running ]. Why a machine
// is paused or failed goes to stderr; --json gives the word, QEMU's own
// status and the reason together.
package main

import (
	"encoding/json"
	"fmt"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/state"
)

type options struct {
	JSON bool `long:"json" description:"print one JSON object: the project, its state, QEMU's status and the reason"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-status",
	Group:   cli.Inspection,
	Summary: "Print whether a machine is running, stopped, paused or failed.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgMachine}},
	Options: &opts,
	Description: `Prints one word on stdout, what the machine of a project (or the maintenance
machine, named maintenance) is doing:
  running   QEMU runs the guest
  stopped   no unit runs the machine
  starting  its unit is starting, QEMU does not answer yet
  stopping  its unit is stopping, or the guest has powered off
  paused    QEMU holds the guest until it is continued: paused through the
            monitor, io-error (a disk write failed, usually on a full host
            file system), or asleep
  failed    the guest cannot go on (QEMU status internal-error or
            guest-panicked); only a stop and a new start bring it back
A machine is running only when QEMU itself says so, over the monitor (QEMU is
given a second). A machine without a port file is stopped, without asking: the
file is written before its unit starts and removed once QEMU has ended. Its
unit is known to be active while the machine's supervisor holds the lock on
its file up (from READY=1 until the machine begins to stop); otherwise systemd
is asked too.

For every state but running and stopped, and for a stopped machine whose QEMU
ended without a shutdown (a crash), the reason follows on stderr. The exit
status is 0 whatever the state:
  [ "$(virtdev-status p)" = running ] || virtdev-start p

--json prints {"project", "state", "qemu", "reason"}: "qemu" is QEMU's own
word (query-status) when it answered.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "the state was printed, whatever it is"},
		exitcode.InvalidName, exitcode.NotFound,
		exitcode.Output, exitcode.Config, exitcode.NoUserManager, exitcode.Unusable,
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
	s, err := state.Of(env.Ctx, m)
	if err != nil {
		return err
	}
	if opts.JSON {
		data, err := json.Marshal(struct {
			Project string `json:"project"`
			state.State
		}{m.Name, s})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s\n", data)
		return nil
	}
	fmt.Fprintln(env.Stdout, s.State)
	if why := s.Explain(m.Name); why != "" {
		env.Infof("%s", why)
	}
	return nil
}
