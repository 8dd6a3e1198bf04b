package qemu

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/runstate"
	"virtdev/lib/unit"
)

const watchInterval = 20 * time.Millisecond

// A guest that fails is seen within an interval or so, and said so.
func TestWatchSeesAFailedGuest(t *testing.T) {
	for _, state := range []runstate.RunState{runstate.StateInternalError, runstate.StateGuestPanicked} {
		m, u, q := running(t, runstate.StateRunning)
		time.AfterFunc(100*time.Millisecond, func() { q.setState(state) })
		begin := time.Now()
		err := Watch(context.Background(), u, m, watchInterval)
		var failed *FailedError
		if !errors.As(err, &failed) || failed.State != state {
			t.Fatalf("got %v, want a FailedError in %s", err, state)
		}
		if d := time.Since(begin); d > 2*time.Second {
			t.Errorf("noticed %s after %s", state, d)
		}
	}
}

// A paused machine is the shared condition 87.
func TestWatchSeesAPausedMachine(t *testing.T) {
	m, u, _ := running(t, runstate.StateIOError)
	err := Watch(context.Background(), u, m, watchInterval)
	var halted *HaltedError
	if !errors.As(err, &halted) || exitcode.For(err) != exitcode.Paused.N {
		t.Fatalf("got %v (code %d), want a HaltedError with code %d", err, exitcode.For(err), exitcode.Paused.N)
	}
}

// QEMU's exit is told with the supervisor's record.
func TestWatchSeesTheEnd(t *testing.T) {
	m, u, _ := running(t, runstate.StateRunning)
	time.AfterFunc(50*time.Millisecond, func() {
		supervisorRecords(u, m, &ShutdownEvent{Guest: false, Reason: "host-signal"})
	})
	err := Watch(context.Background(), u, m, watchInterval)
	var ended *EndedError
	if !errors.As(err, &ended) || ended.Record == nil || ended.Record.Reason != "host-signal" {
		t.Fatalf("got %v, want an EndedError with the record", err)
	}
}

func TestWatchEndsWithItsContext(t *testing.T) {
	m, u, _ := running(t, runstate.StateRunning)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := Watch(ctx, u, m, watchInterval); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	u.exit(unit.CodeKilled, int32(syscall.SIGKILL))
}
