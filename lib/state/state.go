// Package state tells what a machine is doing, in the few words
// virtdev-status and virtdev-list print, from what systemd knows of its
// unit and what QEMU reports of its guest.
//
// systemd alone would call a machine running whenever QEMU runs, but QEMU
// may hold the guest still: paused by a user, or by a disk write that
// failed on a full host file system (io-error), or for good after a guest
// panic or an error of a virtual CPU. None of those answers SSH, so none
// of them is "running" for people or scripts.
package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/runstate"
	"virtdev/lib/unixsock"
	"virtdev/lib/userbus"
)

// Word is a machine's state as status prints it.
type Word string

// The words, each with what it means.
const (
	// Running: QEMU runs the guest.
	Running Word = "running"
	// Stopped: no unit runs the machine.
	Stopped Word = "stopped"
	// Starting: its unit is starting; QEMU does not answer yet.
	Starting Word = "starting"
	// Stopping: its unit is stopping, or the guest has powered off and
	// QEMU is ending.
	Stopping Word = "stopping"
	// Paused: QEMU holds the guest until it is continued (QEMU status
	// paused, io-error, suspended, …).
	Paused Word = "paused"
	// Failed: the guest cannot go on; only a new start brings it back
	// (QEMU status internal-error or guest-panicked).
	Failed Word = "failed"
)

// Words lists every word, for documentation and completions.
var Words = []Word{Running, Stopped, Starting, Stopping, Paused, Failed}

// State is one machine's state.
type State struct {
	State Word `json:"state"`
	// QEMU is QEMU's own word for the guest (QMP query-status) when its
	// unit runs and QEMU answered; empty otherwise.
	QEMU runstate.RunState `json:"qemu,omitempty"`
	// Reason says, for people, why the machine is in a state other than
	// running or stopped, or why QEMU could not tell.
	Reason string `json:"reason,omitempty"`
}

// Explain is the state and its reason in a sentence for people, or ""
// for a machine simply running or stopped.
func (s State) Explain(name string) string {
	switch {
	case s.Reason == "":
		return ""
	case s.QEMU != "":
		return fmt.Sprintf("%s is %s (QEMU status %s): %s", name, s.State, s.QEMU, s.Reason)
	}
	return fmt.Sprintf("%s is %s: %s", name, s.State, s.Reason)
}

// QMPTimeout bounds the question to each QEMU: a QEMU that is wedged, or
// whose monitor another client holds, must not hold up a listing.
const QMPTimeout = time.Second

// Read returns the state of each machine: one question to systemd for
// all their units, and one to each QEMU that runs, over a connection of
// its own. One machine's QEMU is asked while systemd is (Of found its
// port file: it most likely runs); of many, only those whose units
// systemd says run are, once it has said so. Every question is served on
// this goroutine (unixsock.Wait). An error is the user manager's (a
// *userbus.BusError) or ctx's.
func Read(ctx context.Context, machines []layout.Machine) ([]State, error) {
	if len(machines) == 0 {
		return nil, nil
	}
	pattern := layout.Unit("*")
	if len(machines) == 1 {
		pattern = layout.Unit(machines[0].Name)
	}
	bus := userbus.AskActiveStates(pattern)
	probes := make([]*runstate.StatusQuestion, len(machines))
	if len(machines) == 1 {
		probes[0] = runstate.AskStatus(machines[0].Monitor, QMPTimeout)
	}
	// While they answer, what the records say of those that may be
	// stopped.
	last := make([]string, len(machines))
	for i, m := range machines {
		last[i] = LastRun(m)
	}
	unixsock.Wait(ctx, bus.Exchange(), probes[0].Exchange())
	active, err := bus.States(ctx)
	if err != nil {
		return nil, err
	}
	if len(machines) > 1 {
		var asked []*unixsock.Exchange
		for i, m := range machines {
			if runs(active[layout.Unit(m.Name)]) {
				probes[i] = runstate.AskStatus(m.Monitor, QMPTimeout)
				asked = append(asked, probes[i].Exchange())
			}
		}
		unixsock.Wait(ctx, asked...)
	}
	states := make([]State, len(machines))
	for i, m := range machines {
		var status runstate.RunState
		var qerr error
		if probes[i] != nil {
			status, qerr = probes[i].Status()
		}
		states[i] = explain(ctx, m, Classify(m, active[layout.Unit(m.Name)], status, qerr, last[i]))
	}
	return states, nil
}

// explain explains a machine paused on a disk error by its disks: which
// file system found no room, and how much it has now.
func explain(ctx context.Context, m layout.Machine, s State) State {
	if s.QEMU == runstate.StateIOError {
		if c, err := runstate.Examine(ctx, m, QMPTimeout); err == nil && c.State == runstate.StateIOError {
			s.Reason = strings.TrimPrefix(c.Reason(), "io-error: ")
		}
	}
	return s
}

// Of is Read for one machine. One without a port file does not run (the
// file is written before the machine's unit starts, and removed once QEMU
// has ended), and systemd is not asked about it: a script that polls
// virtdev-status on a stopped machine costs nobody anything. Nor is it
// asked about a machine whose supervisor holds its up lock (lock.IsUp):
// the unit is active, and only QEMU is asked about its guest.
func Of(ctx context.Context, m layout.Machine) (State, error) {
	if _, err := os.Lstat(m.Port); errors.Is(err, fs.ErrNotExist) {
		return Classify(m, "", "", nil, LastRun(m)), nil
	}
	if lock.IsUp(m) {
		probe := runstate.AskStatus(m.Monitor, QMPTimeout)
		unixsock.Wait(ctx, probe.Exchange())
		status, err := probe.Status()
		return explain(ctx, m, Classify(m, "active", status, err, "")), nil
	}
	states, err := Read(ctx, []layout.Machine{m})
	if err != nil {
		return State{}, err
	}
	return states[0], nil
}

// Classify decides a machine's state from its unit's ActiveState ("" for
// a unit systemd has not loaded), for a unit that runs QEMU's status or
// the failure to learn it, and for one that does not, how its last run
// ended when that is worth saying (LastRun).
func Classify(m layout.Machine, active string, status runstate.RunState, qerr error, last string) State {
	switch {
	case active == "activating":
		return State{State: Starting}
	case active == "deactivating":
		return State{State: Stopping}
	case !runs(active):
		return State{State: Stopped, Reason: last}
	}
	switch {
	case qerr != nil:
		why := qerr.Error()
		if errors.Is(qerr, fs.ErrNotExist) {
			why = "its monitor socket " + m.Monitor + " is missing"
		}
		return State{State: Running, Reason: "QEMU's own status is unknown: " + why}
	case status == runstate.StateRunning:
		return State{State: Running, QEMU: status}
	case status.Failed():
		return State{State: Failed, QEMU: status, Reason: reason(m, status)}
	case status == runstate.StateShutdown:
		return State{State: Stopping, QEMU: status, Reason: reason(m, status)}
	}
	return State{State: Paused, QEMU: status, Reason: reason(m, status)}
}

// runs reports a unit's ActiveState under which its QEMU runs the guest,
// unless QEMU itself says otherwise.
func runs(active string) bool {
	return active == "active" || active == "reloading" || active == "refreshing"
}

// LastRun explains a stopped machine whose last run ended abnormally, by
// the record its supervisor left: QEMU exited without the SHUTDOWN event
// that a guest's poweroff or virtdev-stop's signal brings. It is "" for
// any other machine.
func LastRun(m layout.Machine) string {
	rec, err := runstate.ReadShutdown(m.Shutdown)
	if err != nil || rec.How != runstate.Unknown {
		return ""
	}
	return "its last run ended abnormally (" + rec.Describe() + ")"
}

// reason is what QEMU's status means for this machine.
func reason(m layout.Machine, status runstate.RunState) string {
	return status.Explain(m.Name)
}
