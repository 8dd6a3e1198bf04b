package runstate

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/unixsock"
)

// ResumeRoom is the free space a machine paused on a full disk needs under
// its disks before it is continued. A guest that goes on writes at once
// (QEMU first retries the write that failed), and one that powers off
// writes its journal and unmounts its file systems: a few MiB. With less,
// it would only be paused again.
const ResumeRoom = 16 << 20

// SpaceOf finds the file system under a path for Examine: fsutil.SpaceOf,
// which the tests of the programs that act on a full disk (here and in
// package qemu) replace with one that is full.
var SpaceOf = fsutil.SpaceOf

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
// may take at most timeout, and explains a machine paused on a disk error:
// which disk, which file system and how much room is left on it (QEMU's
// disks are asked on the same connection, once it has said so). It is
// what status, list, wait, ssh, stop and resume say of a paused or failed
// machine.
func Examine(ctx context.Context, m layout.Machine, timeout time.Duration) (Condition, error) {
	q := askStatus(m.Monitor, timeout, true)
	unixsock.Wait(ctx, q.Exchange())
	state, err := q.Status()
	if err != nil {
		return Condition{}, err
	}
	c := Condition{State: state}
	if state != StateIOError {
		return c, nil
	}
	for _, d := range q.disks {
		file := d.File
		if file != "" && !filepath.IsAbs(file) {
			file = filepath.Join(m.Dir, file)
		}
		switch d.IOStatus {
		case diskNoSpace:
			c.Full = append(c.Full, file)
		case diskFailed:
			c.Failing = append(c.Failing, file)
		}
	}
	// Without QEMU's word on the disks, the machine's directory, which
	// holds them, is where to look.
	where := []string{m.Dir}
	if len(c.Full) > 0 {
		where = append(c.Full[:1:1], m.Dir)
	}
	for _, path := range where {
		if space, err := SpaceOf(path); err == nil {
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
