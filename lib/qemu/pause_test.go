package qemu

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/runstate"
)

// What a paused machine's error tells: the reason, the file system to free
// space on, and the ways on.
func TestHaltedErrorMessage(t *testing.T) {
	full := &HaltedError{Name: "p", Condition: runstate.Condition{State: runstate.StateIOError, Full: []string{"/v/p/home.qcow2"}, Space: &fullDisk}}
	for _, want := range []string{"p is paused: io-error: no space left on /srv (ext4): 4.0 KiB free of 20.0 GiB", "/v/p/home.qcow2", "du -xh -d 2 /srv", "virtdev-resume p", "virtdev-stop p"} {
		if !strings.Contains(full.Error(), want) {
			t.Errorf("message %q does not say %q", full.Error(), want)
		}
	}
	paused := &HaltedError{Name: "p", Condition: runstate.Condition{State: runstate.StatePaused}}
	if msg := paused.Error(); !strings.Contains(msg, "paused by a user") || !strings.Contains(msg, "virtdev-resume p") {
		t.Errorf("message %q", msg)
	}
	if exitcode.For(full) != exitcode.Paused.N {
		t.Errorf("code %d", exitcode.For(full))
	}
}

// Watch reports a machine paused on a full disk with why.
func TestWatchExplainsAFullDisk(t *testing.T) {
	withSpace(t, fullDisk)
	m, u, q := running(t, runstate.StateRunning)
	q.disks = []fakeDisk{{Device: "home", File: m.HomeImage, IOStatus: "nospace"}}
	time.AfterFunc(50*time.Millisecond, func() { q.setState(runstate.StateIOError) })
	err := Watch(context.Background(), u, m, watchInterval)
	var halted *HaltedError
	if !errors.As(err, &halted) || !strings.Contains(err.Error(), "no space left on /srv") {
		t.Fatalf("got %v, want a HaltedError naming /srv", err)
	}
}

func TestResume(t *testing.T) {
	const settle = 100 * time.Millisecond
	full := func(t *testing.T, m *fakeQMP, file string) {
		m.disks = []fakeDisk{{Device: "home", File: file, IOStatus: "nospace"}}
	}
	t.Run("paused by a user", func(t *testing.T) {
		m, _, q := running(t, runstate.StatePaused)
		found, err := Resume(context.Background(), m, settle)
		if err != nil || found.State != runstate.StatePaused || q.continued() != 1 {
			t.Fatalf("Resume = %+v, %v after %d conts", found, err, q.continued())
		}
	})
	t.Run("running", func(t *testing.T) {
		m, _, q := running(t, runstate.StateRunning)
		found, err := Resume(context.Background(), m, settle)
		if err != nil || found.State != runstate.StateRunning || q.continued() != 0 {
			t.Fatalf("Resume = %+v, %v after %d conts", found, err, q.continued())
		}
	})
	t.Run("disk full", func(t *testing.T) {
		withSpace(t, fullDisk)
		m, _, q := running(t, runstate.StateIOError)
		full(t, q, m.HomeImage)
		_, err := Resume(context.Background(), m, settle)
		var halted *HaltedError
		if !errors.As(err, &halted) || halted.Space.Free != fullDisk.Free || q.continued() != 0 {
			t.Fatalf("Resume: %v after %d conts; want a HaltedError and no cont", err, q.continued())
		}
	})
	t.Run("room again", func(t *testing.T) {
		m, _, q := running(t, runstate.StateIOError)
		full(t, q, m.HomeImage)
		found, err := Resume(context.Background(), m, settle)
		if err != nil || found.State != runstate.StateIOError || q.continued() != 1 {
			t.Fatalf("Resume = %+v, %v after %d conts", found, err, q.continued())
		}
	})
	t.Run("paused again", func(t *testing.T) {
		m, _, q := running(t, runstate.StateIOError)
		full(t, q, m.HomeImage)
		q.onCont = func(int) runstate.RunState {
			time.AfterFunc(settle/4, func() { q.setState(runstate.StateIOError) })
			return runstate.StateRunning
		}
		_, err := Resume(context.Background(), m, settle)
		var halted *HaltedError
		if !errors.As(err, &halted) || q.continued() != 1 {
			t.Fatalf("Resume: %v after %d conts; want a HaltedError after one cont", err, q.continued())
		}
	})
	t.Run("failed", func(t *testing.T) {
		m, _, q := running(t, runstate.StateGuestPanicked)
		_, err := Resume(context.Background(), m, settle)
		var failed *FailedError
		if !errors.As(err, &failed) || q.continued() != 0 {
			t.Fatalf("Resume: %v after %d conts; want a FailedError", err, q.continued())
		}
	})
}
