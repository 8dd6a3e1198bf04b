// Command virtdev-pid prints the process ID of a running machine's QEMU.
//
//	virtdev-pid [OPTIONS] <project>
//
// stdout holds only the PID, for scripts: top -p "$(virtdev-pid p)".
package main

import (
	"errors"
	"fmt"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/qemu"
	"virtdev/lib/unit"
)

const (
	exitNoPID      = 10
	exitForeignPID = 11
)

var command = cli.Command{
	Name:    "virtdev-pid",
	Group:   cli.Inspection,
	Summary: "Print the process ID of a running machine's QEMU.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgMachine}},
	Description: `Prints the process ID of the QEMU that runs the machine of a project (or the
maintenance machine, named maintenance): the PID QEMU wrote to the machine's
qemu.pid as it started, once checked against systemd: the process must be in
the cgroup of the machine's unit virtdev-<project>.service. (The unit's main
process is QEMU's supervisor, virtdev-supervise; QEMU is its child.)

    top -p "$(virtdev-pid p)"`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "printed"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning,
		{N: exitNoPID, Meaning: "QEMU's PID is not known: no qemu.pid (the machine is starting or stopping), or one that holds no PID"},
		{N: exitForeignPID, Meaning: "qemu.pid names a process that is not in the machine's unit"},
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
	units, err := unit.Connect(env.Ctx)
	if err != nil {
		return err
	}
	defer units.Close()
	name := layout.Unit(m.Name)
	st, err := units.Status(env.Ctx, name)
	if err != nil {
		return exitcode.Wrap(exitcode.NoUserManager, err, "cannot ask systemd about %s", m.Name)
	}
	if !st.Running() {
		return exitcode.New(exitcode.NotRunning, "%s is not running (its unit %s is %s)\nStart it with: virtdev-start %s",
			m.Name, name, st.ActiveState, m.Name)
	}
	pid, err := qemu.ReadPID(m)
	if err != nil {
		hint := "QEMU writes it as it starts and it is removed when QEMU ends: see whether the machine is starting or stopping: virtdev-status " + m.Name
		if !errors.Is(err, qemu.ErrNoPID) {
			hint = "Stop and start the machine to have it written again: virtdev-stop " + m.Name + " && virtdev-start " + m.Name
		}
		return cli.Errorf(exitNoPID, "QEMU's process ID for %s is not known: %v\n%s", m.Name, err, hint)
	}
	in, err := unit.InGroup(pid, st.ControlGroup)
	if err != nil || !in {
		why := fmt.Sprintf("it is not in the unit's cgroup %s", st.ControlGroup)
		if err != nil {
			why = err.Error()
		}
		return cli.Errorf(exitForeignPID, "%s names process %d, which is not the QEMU of %s: %s\nThe file outlived the QEMU that wrote it; look at the machine: virtdev-status %s",
			m.QEMUPid, pid, m.Name, why, m.Name)
	}
	fmt.Fprintln(env.Stdout, pid)
	return nil
}
