// Command virtdev-port prints the SSH port of a running machine.
//
//	virtdev-port [OPTIONS] <project>
//
// stdout holds only the port, for scripts:
//
//	ssh -p "$(virtdev-port p)" dev@127.0.0.1
package main

import (
	"fmt"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/state"
)

var command = cli.Command{
	Name:    "virtdev-port",
	Group:   cli.Inspection,
	Summary: "Print the SSH port of a running machine.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgMachine}},
	Description: `Prints the port on 127.0.0.1 where the machine of a project (or the
maintenance machine, named maintenance) answers SSH. The port is chosen at
each start and recorded in the machine's port file. The machine's unit must
still run (its supervisor's lock on the file up shows it, or else systemd
says), so a port file that outlived its machine (after a crash or a host
reboot) is an error, not an answer.

    ssh -p "$(virtdev-port p)" dev@127.0.0.1

virtdev-ssh-config writes Host blocks that find the port by themselves.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "printed"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.StalePort, exitcode.CorruptPort,
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
	port, err := state.CheckRunning(env.Ctx, m)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, port)
	return nil
}
