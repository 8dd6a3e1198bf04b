package qemu

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
)

// ResumeRoom is the free space a machine paused on a full disk needs under
// its disks before it is continued. A guest that goes on writes at once
// (QEMU first retries the write that failed), and one that powers off
// writes its journal and unmounts its file systems: a few MiB. With less,
// it would only be paused again.
const ResumeRoom = 16 << 20

// spaceOf finds the file system under a path; tests make it full.
var spaceOf = fsutil.SpaceOf

// Condition is how QEMU finds a running machine, explained for people:
// its status, and for a machine paused on a disk error, the disks at fault
// and the file system under them.
type Condition struct {
	State RunState
	// Full are the disk files QEMU found no space for, Failing those a
	// write failed on for another reason (query-block's io-status
	// nospace and failed), as absolute paths.
	Full, Failing []string
	// Space is the file system holding the full disk, or the machine's
	// directory when QEMU names no disk; nil when it cannot be read.
	Space *fsutil.Space
}

// Examine asks QEMU how machine m is, over a connection of its own that
// each command may hold for at most timeout, and explains a machine paused
// on a disk error: which disk, which file system and how much room is left
// on it. It is what status, list, wait, ssh and stop say of a paused or
// failed machine.
func Examine(ctx context.Context, m layout.Machine, timeout time.Duration) (Condition, error) {
	mon, err := Dial(ctx, m.Monitor, timeout)
	if err != nil {
		return Condition{}, err
	}
	defer mon.Close()
	return mon.examine(m, timeout)
}

func (mon *Monitor) examine(m layout.Machine, timeout time.Duration) (Condition, error) {
	state, err := mon.Status(timeout)
	if err != nil {
		return Condition{}, err
	}
	c := Condition{State: state}
	if state != StateIOError {
		return c, nil
	}
	// Without QEMU's word on the disks, the machine's directory, which
	// holds them, is where to look.
	if disks, err := mon.Disks(timeout); err == nil {
		for _, d := range disks {
			file := d.File
			if file != "" && !filepath.IsAbs(file) {
				file = filepath.Join(m.Dir, file)
			}
			switch d.IOStatus {
			case DiskNoSpace:
				c.Full = append(c.Full, file)
			case DiskFailed:
				c.Failing = append(c.Failing, file)
			}
		}
	}
	where := []string{m.Dir}
	if len(c.Full) > 0 {
		where = append(c.Full[:1:1], m.Dir)
	}
	for _, path := range where {
		if space, err := spaceOf(path); err == nil {
			c.Space = &space
			break
		}
	}
	return c, nil
}

// Reason says in one line why the machine does not run, for status and
// list: "io-error: no space left on /srv (ext4): 0 B free of 20.0 GiB", or
// "paused by a user through the monitor". It is empty for a running
// machine.
func (c Condition) Reason() string {
	switch c.State {
	case StateRunning:
		return ""
	case StateIOError:
		switch {
		case len(c.Full) > 0 && c.Space != nil:
			return "io-error: no space left on " + c.Space.String()
		case len(c.Full) > 0:
			return "io-error: no space left for " + strings.Join(c.Full, ", ")
		case len(c.Failing) > 0:
			return "io-error: a write to " + strings.Join(c.Failing, ", ") + " failed"
		case c.Space != nil:
			return "io-error: a write to its disks failed (" + c.Space.String() + ")"
		}
		return "io-error: a write to its disks failed"
	case StatePaused:
		return "paused by a user through the monitor"
	case StateInternalError:
		return "internal-error: a virtual CPU met an error QEMU cannot handle"
	case StateGuestPanicked:
		return "guest-panicked: the guest's kernel panicked"
	}
	return string(c.State)
}

// HasRoom reports whether the machine can go on as far as space goes: it
// did not stop for lack of it, or its file system has ResumeRoom again
// (or cannot be read, and QEMU is left to find out).
func (c Condition) HasRoom() bool {
	return c.State != StateIOError || c.Space == nil || c.Space.Free >= ResumeRoom
}

// Err is the error a program that needs the guest to run meets: a
// *FailedError for a guest that cannot go on, a *HaltedError for a machine
// QEMU paused, nil otherwise.
func (c Condition) Err(name string) error {
	switch {
	case c.State.Failed():
		return &FailedError{Name: name, State: c.State}
	case c.State.Halted():
		return &HaltedError{Name: name, Condition: c}
	}
	return nil
}

// ResumeSettle is how long Resume watches a machine it continued: a disk
// still too full pauses it again within moments.
const ResumeSettle = 2 * time.Second

// Resume continues a machine QEMU paused, if it can go on: one paused on a
// full disk only once its file system has ResumeRoom again. It returns
// the condition it found the machine in (State running: there was nothing
// to do), and when the machine stays paused, a *HaltedError with its
// condition afterwards: not continued for lack of room, or paused again
// within settle. A failed guest is a *FailedError.
func Resume(ctx context.Context, m layout.Machine, settle time.Duration) (Condition, error) {
	mon, err := Dial(ctx, m.Monitor, commandTimeout)
	if err != nil {
		return Condition{}, err
	}
	found, err := mon.examine(m, commandTimeout)
	if err == nil && found.State.Halted() && found.HasRoom() {
		err = mon.Cont(commandTimeout)
	}
	mon.Close()
	switch {
	case err != nil:
		return found, err
	case found.State == StateRunning:
		return found, nil
	case found.State.Failed():
		return found, found.Err(m.Name)
	case !found.State.Halted():
		return found, fmt.Errorf("QEMU reports %s in state %s, which virtdev cannot continue", m.Name, found.State)
	case !found.HasRoom():
		return found, found.Err(m.Name)
	}
	// Paused again, it is paused for good; QEMU may be too busy to answer
	// for a moment, which says nothing.
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return found, ctx.Err()
		case <-time.After(settle / 8):
		}
		if now, err := Examine(ctx, m, commandTimeout); err == nil && now.State != StateRunning {
			return found, now.Err(m.Name)
		}
	}
	return found, nil
}
