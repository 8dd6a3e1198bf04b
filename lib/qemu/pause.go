package qemu

import (
	"context"
	"fmt"
	"time"

	"virtdev/lib/layout"
	"virtdev/lib/runstate"
)

// GuestErr is the error a program that needs the guest to run meets, in
// the condition runstate.Examine found it: a *FailedError for a guest
// that cannot go on, a *HaltedError for a machine QEMU paused, nil
// otherwise.
func GuestErr(name string, c runstate.Condition) error {
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
// full disk only once its file system has runstate.ResumeRoom again. It returns
// the condition it found the machine in (State running: there was nothing
// to do), and when the machine stays paused, a *HaltedError with its
// condition afterwards: not continued for lack of room, or paused again
// within settle. A failed guest is a *FailedError.
func Resume(ctx context.Context, m layout.Machine, settle time.Duration) (runstate.Condition, error) {
	found, err := runstate.Examine(ctx, m, commandTimeout)
	if err == nil && found.State.Halted() && found.HasRoom() {
		err = cont(ctx, m)
	}
	switch {
	case err != nil:
		return found, err
	case found.State == runstate.StateRunning:
		return found, nil
	case found.State.Failed():
		return found, GuestErr(m.Name, found)
	case !found.State.Halted():
		return found, fmt.Errorf("QEMU reports %s in state %s, which virtdev cannot continue", m.Name, found.State)
	case !found.HasRoom():
		return found, GuestErr(m.Name, found)
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
		if now, err := runstate.Examine(ctx, m, commandTimeout); err == nil && now.State != runstate.StateRunning {
			return found, GuestErr(m.Name, now)
		}
	}
	return found, nil
}

// cont continues a machine QEMU paused, over a connection of its own.
func cont(ctx context.Context, m layout.Machine) error {
	mon, err := Dial(ctx, m.Monitor, commandTimeout)
	if err != nil {
		return err
	}
	defer mon.Close()
	return mon.Cont(commandTimeout)
}
