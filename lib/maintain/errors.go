package maintain

import (
	"fmt"
	"strings"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/runstate"
)

// The errors of a session. Each says what happened, that the sealed base
// is unchanged, and what is left and how to remove it; the program gives
// each its exit code.

// OrphanError is a maintenance machine that runs without a session: its
// virtdev-maintain was killed.
type OrphanError struct {
	Unit  string
	State string
}

func (e *OrphanError) Error() string {
	return fmt.Sprintf("a maintenance machine runs without its virtdev-maintain (%s is %s): an earlier session was killed before it could stop it\n"+
		"Stop it, then remove what it left, and start again:\n    virtdev-stop %s\n    rm -rf \"$(virtdev-path %s)\"",
		e.Unit, e.State, layout.Maintenance, layout.Maintenance)
}

// StagingError is a staging directory an earlier session left: its
// images may be worth a look, so virtdev does not remove them.
type StagingError struct {
	Dir string
	// Record is how its machine ended, when it says.
	Record *runstate.Shutdown
}

func (e *StagingError) Error() string {
	how := ""
	if e.Record != nil {
		how = fmt.Sprintf(" (its machine ended: %s)", e.Record.Describe())
	}
	return fmt.Sprintf("an earlier maintenance session left its staging directory %s%s\n"+
		"The sealed base is unchanged. Look at it if you want, then remove it and start again:\n    rm -rf %s",
		e.Dir, how, e.Dir)
}

// RunningError lists the machines of this VIRTDEV_HOME that run: their
// disks are deltas over the base, which a reseal must not replace under
// them. It is the shared condition exitcode.Running.
type RunningError struct {
	Machines []string // projects whose machines run
	// Units run a machine from VIRTDEV_HOME without being a project's
	// (its directory was removed by hand), or cannot be asked.
	Units []string
}

func (e *RunningError) Error() string {
	var running, stops []string
	for _, m := range e.Machines {
		running = append(running, m)
		stops = append(stops, "virtdev-stop "+m)
	}
	for _, u := range e.Units {
		running = append(running, u)
		stops = append(stops, "systemctl --user stop "+u)
	}
	return fmt.Sprintf("machines that may use the base run: %s\nTheir disks are deltas over the base; stop them before maintaining it:\n    %s",
		strings.Join(running, ", "), strings.Join(stops, "\n    "))
}

func (e *RunningError) ExitCode() int { return exitcode.Running.N }

// HookError is a hook that cannot be used, or that failed in the guest.
type HookError struct {
	Hook   string // provision, VIRTDEV_SCRIPT or inventory
	Path   string
	Status int   // its exit status in the guest; 0 when it did not run
	Err    error // why it could not be used or run
	// Staging is the staging directory left behind, once the machine ran.
	Staging string
}

func (e *HookError) Error() string {
	var what string
	switch {
	case e.Err != nil && e.Staging == "":
		return fmt.Sprintf("the %s hook %s cannot be used: %v\nFix it, or run without it (see --help).", e.Hook, e.Path, e.Err)
	case e.Err != nil:
		what = fmt.Sprintf("the %s hook %s could not be run in the maintenance machine: %v", e.Hook, e.Path, e.Err)
	case e.Status == 255:
		what = fmt.Sprintf("the %s hook %s could not be run: ssh failed (status 255; its messages are above)", e.Hook, e.Path)
	default:
		what = fmt.Sprintf("the %s hook %s failed in the maintenance machine with status %d (its output is above)", e.Hook, e.Path, e.Status)
	}
	return what + "\nThe machine was stopped. " + kept(e.Staging)
}

func (e *HookError) Unwrap() error { return e.Err }

// kept says that the base is unchanged and the staging directory stays.
func kept(staging string) string {
	return fmt.Sprintf("The sealed base is unchanged; the staging directory %s is kept for inspection.\nRemove it before the next session: rm -rf %s", staging, staging)
}

// How a session's machine ended, when that forbids a reseal.
type End int

const (
	// Aborted: virtdev-stop maintenance stopped it.
	Aborted End = iota + 1
	// Forced: QEMU was stopped from the host (a signal, a quit), so the
	// guest never shut down.
	Forced
	// Crashed: QEMU ended without reporting a shutdown (SIGKILL, a crash).
	Crashed
	// Unsealed: the guest powered itself off, but its seal did not report
	// that it finished: the machine went down before the session was open,
	// or the seal failed.
	Unsealed
)

// EndError is a maintenance machine that did not end with a sealed
// poweroff: the base is not resealed.
type EndError struct {
	End     End
	Record  runstate.Shutdown // as the machine's supervisor (and virtdev-stop) recorded it
	Early   bool              // before the session was open
	Staging string
}

func (e *EndError) Error() string {
	when := ""
	if e.Early {
		when = " before the session was open"
	}
	var what string
	switch e.End {
	case Aborted:
		what = fmt.Sprintf("the session was aborted: virtdev-stop stopped the maintenance machine%s (%s)", when, e.Record.Describe())
	case Forced:
		what = fmt.Sprintf("the maintenance machine was stopped from the host%s (%s): its guest never shut down, so its file systems were not unmounted cleanly and resealing it would bake that into the base", when, e.Record.Describe())
	case Crashed:
		what = fmt.Sprintf("QEMU ended%s without reporting a shutdown (%s): it was killed or crashed; see journalctl --user -u %s", when, e.Record.Describe(), layout.Unit(layout.Maintenance))
	default:
		if e.Early {
			what = "the maintenance machine powered off before the session was open, before it was prepared to seal itself: the base it leaves would carry its SSH host keys"
			break
		}
		what = "the maintenance machine powered off without sealing itself: the base it leaves would carry its SSH host keys; the seal's messages are in the guest's journal (journalctl -u " + sealUnit + "), which the staging copy keeps"
	}
	what += "\n" + kept(e.Staging)
	if e.End == Forced || e.End == Unsealed {
		what += "\nEnd a session from inside the guest: sudo poweroff"
	}
	return what
}

// SSHError is a maintenance machine whose SSH never let dev in, or whose
// guest failed meanwhile.
type SSHError struct {
	Err     error
	Staging string
}

func (e *SSHError) Error() string {
	return fmt.Sprintf("%v\nThe machine was stopped. %s\nSee what happened: journalctl --user -u %s",
		e.Err, kept(e.Staging), layout.Unit(layout.Maintenance))
}

func (e *SSHError) Unwrap() error { return e.Err }

// ArmError is a guest in which the seal could not be installed.
type ArmError struct {
	Status  int
	Err     error // ssh could not be run
	Staging string
}

func (e *ArmError) Error() string {
	why := fmt.Sprintf("status %d; the messages are above", e.Status)
	if e.Err != nil {
		why = e.Err.Error()
	}
	return fmt.Sprintf("cannot prepare the maintenance machine to seal itself when it powers off (%s)\nThe machine was stopped. %s",
		why, kept(e.Staging))
}

func (e *ArmError) Unwrap() error { return e.Err }

// DeclinedError is a reseal the user declined at the prompt.
type DeclinedError struct{ Staging string }

func (e *DeclinedError) Error() string {
	return "reseal declined\n" + kept(e.Staging)
}

// NotInteractiveError is a session that would need to ask before the
// reseal, with no terminal to ask on.
type NotInteractiveError struct{}

func (e *NotInteractiveError) Error() string {
	return "virtdev-maintain asks before it reseals the base, and standard input is not a terminal\nRun it from a terminal, or pass --yes to reseal without asking (a script then ends the session with: virtdev-ssh maintenance sudo poweroff)"
}

// CheckError is a maintained image that fails qemu-img check, or that
// qemu-img could not check (Ran false).
type CheckError struct {
	Which   string // system or home
	Path    string
	Ran     bool
	Err     error
	Staging string
}

func (e *CheckError) Error() string {
	if !e.Ran {
		return fmt.Sprintf("cannot check the maintained %s image %s: %v\n%s", e.Which, e.Path, e.Err, kept(e.Staging))
	}
	return fmt.Sprintf("the maintained %s image fails its check: %v\nThe base is not resealed with it. %s", e.Which, e.Err, kept(e.Staging))
}

func (e *CheckError) Unwrap() error { return e.Err }

// CopyError is a base that could not be copied to the staging directory.
type CopyError struct {
	Dir string
	Err error
}

func (e *CopyError) Error() string {
	return fmt.Sprintf("cannot copy the base to the staging directory %s: %v\nNothing was left behind; the sealed base is unchanged. Free space, or fix the directory, and start again.", e.Dir, e.Err)
}

func (e *CopyError) Unwrap() error { return e.Err }

// InterruptedError is a session ended by a signal to the program.
type InterruptedError struct {
	What string // when: "while checking the maintained images"
	// Staging is the staging directory left behind, once the machine ran;
	// it was stopped if it still ran.
	Staging string
}

func (e *InterruptedError) Error() string {
	if e.Staging == "" {
		return "interrupted " + e.What + "; nothing was changed"
	}
	return "interrupted " + e.What + "\n" + kept(e.Staging)
}

func (e *InterruptedError) ExitCode() int { return exitcode.Interrupted.N }

// RecoveryError is what an interrupted seal or reseal left, that cannot be
// put right.
type RecoveryError struct{ Err error }

func (e *RecoveryError) Error() string {
	return "cannot put right what an interrupted seal or reseal left: " + e.Err.Error()
}

func (e *RecoveryError) Unwrap() error { return e.Err }
