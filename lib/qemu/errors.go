package qemu

import (
	"fmt"
	"strings"

	"virtdev/lib/exitcode"
	"virtdev/lib/runstate"
)

// SetupError is something missing on the host rather than in the machine.
type SetupError struct{ Message string }

func (e *SetupError) Error() string { return e.Message }

// MissingFileError is a file the machine cannot boot without.
type MissingFileError struct{ What, Path string }

func (e *MissingFileError) Error() string {
	return fmt.Sprintf("the %s is missing: %s", e.What, e.Path)
}

// RunningError refuses to start a machine that runs.
type RunningError struct {
	Unit  string
	State string
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("%s is already %s", e.Unit, e.State)
}

func (e *RunningError) ExitCode() int { return exitcode.Running.N }

// NotRunningError refuses to stop a machine that does not run.
type NotRunningError struct{ Unit string }

func (e *NotRunningError) Error() string { return e.Unit + " is not running" }

func (e *NotRunningError) ExitCode() int { return exitcode.NotRunning.N }

// BootError is QEMU failing to come up: it exited before it answered on
// QMP, or did not answer in time. Nothing of the attempt runs any more;
// the unit is left in its failed state for inspection.
type BootError struct {
	Unit     string
	Ended    string   // how QEMU or its supervisor ended, as far as known
	Messages []string // QEMU's last lines on stderr
	Accel    string   // the accelerator it was started with
	CPU      string   // the -cpu model, under KVM
}

func (e *BootError) Error() string {
	var b strings.Builder
	ended := e.Ended
	if ended == "" {
		ended = "how is unknown"
	}
	fmt.Fprintf(&b, "QEMU failed while %s was starting (%s)", e.Unit, ended)
	if len(e.Messages) > 0 {
		fmt.Fprintf(&b, "; its last words:\n    %s", strings.Join(e.Messages, "\n    "))
	}
	if e.Accel == KVM {
		fmt.Fprintf(&b, "\nUnder KVM, QEMU fails at start when the host cannot give the guest the processor VIRTDEV_CPU asks for (%s):\non a nested host try VIRTDEV_CPU=host,-arch-capabilities, or run under emulation: VIRTDEV_ACCEL=tcg", e.CPU)
	}
	fmt.Fprintf(&b, "\nRead all of QEMU's messages: journalctl --user -u %s", e.Unit)
	return b.String()
}

// StuckError is a machine that survived SIGKILL.
type StuckError struct {
	Unit  string
	State string
}

func (e *StuckError) Error() string {
	return fmt.Sprintf("%s is still %s after SIGTERM and SIGKILL; the machine may still run\nInspect it: systemctl --user status %s", e.Unit, e.State, e.Unit)
}

// FailedError is a machine whose guest cannot go on (Failed states).
type FailedError struct {
	Name  string
	State runstate.RunState
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%s failed: QEMU reports its status as %s: %s\nStop it with: virtdev-stop %s", e.Name, e.State, e.State.Explain(e.Name), e.Name)
}

// HaltedError is a machine QEMU paused (Halted states), with why. It is
// the shared condition exitcode.Paused.
type HaltedError struct {
	Name string
	runstate.Condition
}

func (e *HaltedError) Error() string {
	if e.State != runstate.StateIOError {
		return fmt.Sprintf("%s is paused: %s (QEMU status %s)\nGo on: virtdev-resume %s; or stop it: virtdev-stop %s",
			e.Name, e.Reason(), e.State, e.Name, e.Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s is paused: %s\n", e.Name, e.Reason())
	switch {
	case len(e.Full) > 0:
		fmt.Fprintf(&b, "QEMU paused the guest when it found no room to write %s; the guest waits until there is room again.\n", strings.Join(e.Full, ", "))
	case len(e.Failing) > 0:
		b.WriteString("The failure was not for lack of space: the host's kernel log (journalctl -k) may tell more.\n")
	}
	if e.Space != nil && e.Space.MountPoint != "" {
		fmt.Fprintf(&b, "Free space on %s (see what takes it: %s), then ", e.Space.MountPoint, e.Space.Survey())
	} else {
		b.WriteString("Free space under the machine's disks, then ")
	}
	fmt.Fprintf(&b, "go on: virtdev-resume %s; or stop it: virtdev-stop %s", e.Name, e.Name)
	return b.String()
}

func (e *HaltedError) ExitCode() int { return exitcode.Paused.N }

// EndedError is a machine whose QEMU exited while a program watched it.
type EndedError struct {
	Name   string
	Unit   string
	Record *runstate.Shutdown // how it ended, when its supervisor recorded it
	Ended  string             // how systemd saw the unit's main process end
}

func (e *EndedError) Error() string {
	how := e.Ended
	if e.Record != nil {
		how = e.Record.Describe()
	}
	if how == "" {
		how = "how is unknown"
	}
	return fmt.Sprintf("%s stopped (%s)\nSee what happened: journalctl --user -u %s\nStart it again with: virtdev-start %s", e.Name, how, e.Unit, e.Name)
}
