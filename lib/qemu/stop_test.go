package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/runstate"
	"virtdev/lib/unit"
)

// running makes a machine that runs: a unit, a port file, and QEMU's
// public monitor in state.
func running(t *testing.T, state runstate.RunState) (layout.Machine, *fakeUnits, *fakeQMP) {
	t.Helper()
	_, ms := machines(t, "p")
	m := ms[0]
	if err := project.WritePort(m, 2222); err != nil {
		t.Fatal(err)
	}
	return m, newFakeUnits(true), newFakeQMP(t, m.Monitor, state)
}

// supervisorRecords plays the supervisor when QEMU exits: it records the
// SHUTDOWN event QEMU sent, and the unit goes down.
func supervisorRecords(u *fakeUnits, m layout.Machine, event *ShutdownEvent) {
	rec := classify(event, "")
	rec.Exit = "exit status 0"
	rec.Time = time.Now()
	runstate.WriteShutdown(m.Shutdown, rec)
	os.Remove(m.Port)
	u.exit(unit.CodeExited, 0)
}

// fastStop gives the guest timeout, and QEMU half a second after each
// signal: long enough for the fake supervisor to act on a loaded host,
// where a tenth of a second sent SIGKILL before it had.
func fastStop(timeout time.Duration) StopOptions {
	return StopOptions{Timeout: timeout, ResetFailed: true, PressInterval: 20 * time.Millisecond, KillGrace: 500 * time.Millisecond}
}

// The guest ignores the first presses, as a booting guest does, and powers
// off at the third: clean, with the presses counted in the record.
func TestStopClean(t *testing.T) {
	m, u, q := running(t, runstate.StateRunning)
	q.onPowerdown = func(n int) {
		if n == 3 {
			supervisorRecords(u, m, &ShutdownEvent{Guest: true, Reason: "guest-shutdown"})
		}
	}
	rec, err := Stop(context.Background(), u, m, fastStop(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if rec.How != runstate.Clean || rec.Presses != 3 || rec.Signal != "" || len(u.killed()) != 0 {
		t.Errorf("record %+v, signals %v; want clean after 3 presses, no signal", rec, u.killed())
	}
	saved, err := runstate.ReadShutdown(m.Shutdown)
	if err != nil || saved.Presses != 3 || saved.How != runstate.Clean {
		t.Errorf("saved record %+v, %v; want the supervisor's with the presses added", saved, err)
	}
	if u.resets != 1 {
		t.Errorf("%d ResetFailed, want 1", u.resets)
	}
}

// A guest deaf to the button gets SIGTERM after the timeout; QEMU's
// SHUTDOWN then says host-signal: forced.
func TestStopEscalatesToSIGTERM(t *testing.T) {
	m, u, _ := running(t, runstate.StateRunning)
	u.onKill = func(sig syscall.Signal) {
		if sig == syscall.SIGTERM {
			go supervisorRecords(u, m, &ShutdownEvent{Guest: false, Reason: "host-signal"})
		}
	}
	begin := time.Now()
	rec, err := Stop(context.Background(), u, m, fastStop(150*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if rec.How != runstate.Forced || rec.Signal != "SIGTERM" || rec.Reason != "host-signal" || rec.Presses < 2 {
		t.Errorf("record %+v; want forced by SIGTERM after presses", rec)
	}
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Errorf("SIGTERM after %s, before the timeout", d)
	}
}

// QEMU survives SIGTERM; SIGKILL takes the supervisor too, so Stop writes
// the record alone.
func TestStopEscalatesToSIGKILLAndRecordsAlone(t *testing.T) {
	m, u, _ := running(t, runstate.StateRunning)
	u.onKill = func(sig syscall.Signal) {
		if sig == syscall.SIGKILL {
			go u.exit(unit.CodeKilled, int32(syscall.SIGKILL))
		}
	}
	rec, err := Stop(context.Background(), u, m, fastStop(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if k := u.killed(); !slices.Equal(k, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}) {
		t.Errorf("signals %v", k)
	}
	saved, err := runstate.ReadShutdown(m.Shutdown)
	if err != nil || saved.How != runstate.Forced || saved.Signal != "SIGKILL" || saved.Exit != "killed by signal 9 (killed)" || rec.How != runstate.Forced {
		t.Errorf("record %+v, %v; want Stop's own, forced by SIGKILL", saved, err)
	}
	for _, p := range runtimePaths(m) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s outlived the machine", p)
		}
	}
}

func TestStopGivesUpOnAStuckMachine(t *testing.T) {
	m, u, _ := running(t, runstate.StateRunning)
	_, err := Stop(context.Background(), u, m, fastStop(50*time.Millisecond))
	var stuck *StuckError
	if !errors.As(err, &stuck) {
		t.Fatalf("got %v, want a StuckError", err)
	}
}

// A guest that cannot go on cannot handle the button: no press, SIGTERM
// at once, and the record says what QEMU reported.
func TestStopFailedGuestGetsSIGTERMAtOnce(t *testing.T) {
	for _, state := range []runstate.RunState{runstate.StateGuestPanicked, runstate.StateInternalError} {
		t.Run(string(state), func(t *testing.T) {
			m, u, q := running(t, state)
			signalled(u, m)
			begin := time.Now()
			rec, err := Stop(context.Background(), u, m, fastStop(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if rec.How != runstate.Forced || rec.State != state || rec.Presses != 0 || q.pressed() != 0 || q.continued() != 0 {
				t.Errorf("record %+v, %d presses, %d conts; want forced with state %s, no press", rec, q.pressed(), q.continued(), state)
			}
			if d := time.Since(begin); d > 10*time.Second {
				t.Errorf("took %s: the timeout was waited for", d)
			}
		})
	}
}

// signalled makes the machine's QEMU exit on any signal, as QEMU does.
func signalled(u *fakeUnits, m layout.Machine) {
	u.onKill = func(sig syscall.Signal) {
		go supervisorRecords(u, m, &ShutdownEvent{Guest: false, Reason: "host-signal"})
	}
}

// A machine paused by a user, or on a disk that has room again, is
// continued so that its guest sees the button, and powers off cleanly.
func TestStopContinuesAPausedMachine(t *testing.T) {
	for _, state := range []runstate.RunState{runstate.StatePaused, runstate.StateIOError} {
		t.Run(string(state), func(t *testing.T) {
			m, u, q := running(t, state)
			q.disks = []fakeDisk{{Device: "home", File: m.HomeImage, IOStatus: "nospace"}}
			q.onPowerdown = func(int) { supervisorRecords(u, m, &ShutdownEvent{Guest: true, Reason: "guest-shutdown"}) }
			var said []string
			o := fastStop(time.Minute)
			o.Progress = func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }
			rec, err := Stop(context.Background(), u, m, o)
			if err != nil {
				t.Fatal(err)
			}
			if rec.How != runstate.Clean || q.continued() != 1 || rec.Presses != 1 || len(u.killed()) != 0 {
				t.Errorf("record %+v, %d conts, signals %v; want one cont, then a clean poweroff", rec, q.continued(), u.killed())
			}
			if !strings.Contains(strings.Join(said, "\n"), "continued p") {
				t.Errorf("the continuation was not told: %q", said)
			}
		})
	}
}

// withSpace makes every file system look as s says.
func withSpace(t *testing.T, s fsutil.Space) {
	t.Helper()
	real := runstate.SpaceOf
	runstate.SpaceOf = func(string) (fsutil.Space, error) { return s, nil }
	t.Cleanup(func() { runstate.SpaceOf = real })
}

var fullDisk = fsutil.Space{MountPoint: "/srv", Type: "ext4", Free: 4096, Size: 20 << 30}

// A machine paused on a disk that is still full cannot power off cleanly:
// it is left paused, untouched, and the error says where space is short.
func TestStopLeavesAFullMachinePaused(t *testing.T) {
	withSpace(t, fullDisk)
	m, u, q := running(t, runstate.StateIOError)
	q.disks = []fakeDisk{{Device: "system", File: m.SystemImage, IOStatus: "ok"}, {Device: "home", File: m.HomeImage, IOStatus: "nospace"}}
	_, err := Stop(context.Background(), u, m, fastStop(time.Minute))
	var halted *HaltedError
	if !errors.As(err, &halted) || exitcode.For(err) != exitcode.Paused.N {
		t.Fatalf("got %v, want a HaltedError (code %d)", err, exitcode.Paused.N)
	}
	if !slices.Equal(halted.Full, []string{m.HomeImage}) || halted.Space == nil || halted.Space.MountPoint != "/srv" {
		t.Errorf("the error names %v on %+v, want the home disk on /srv", halted.Full, halted.Space)
	}
	if q.continued() != 0 || q.pressed() != 0 || len(u.killed()) != 0 {
		t.Errorf("%d conts, %d presses, signals %v: the machine was touched", q.continued(), q.pressed(), u.killed())
	}
}

// --force sends SIGTERM at once, whatever the guest's state, and records
// a state that kept the guest from the button.
func TestStopForced(t *testing.T) {
	withSpace(t, fullDisk)
	for _, state := range []runstate.RunState{runstate.StateRunning, runstate.StateIOError} {
		t.Run(string(state), func(t *testing.T) {
			m, u, q := running(t, state)
			signalled(u, m)
			o := fastStop(time.Minute)
			o.Force = true
			rec, err := Stop(context.Background(), u, m, o)
			if err != nil {
				t.Fatal(err)
			}
			want := state
			if state == runstate.StateRunning {
				want = ""
			}
			if rec.How != runstate.Forced || rec.Signal != "SIGTERM" || rec.State != want || q.pressed() != 0 || q.continued() != 0 {
				t.Errorf("record %+v, %d presses, %d conts; want forced by SIGTERM at once, state %q", rec, q.pressed(), q.continued(), want)
			}
		})
	}
}

// The monitor that cannot be reached (no socket) leaves only signals.
func TestStopWithoutMonitor(t *testing.T) {
	_, ms := machines(t, "p")
	m := ms[0]
	u := newFakeUnits(true)
	u.onKill = func(sig syscall.Signal) {
		go supervisorRecords(u, m, &ShutdownEvent{Guest: false, Reason: "host-signal"})
	}
	rec, err := Stop(context.Background(), u, m, fastStop(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if rec.How != runstate.Forced || rec.Signal != "SIGTERM" || rec.Presses != 0 {
		t.Errorf("record %+v", rec)
	}
}

func TestStopNotRunningCleansUp(t *testing.T) {
	_, ms := machines(t, "p")
	m := ms[0]
	project.WritePort(m, 2222)
	_, err := Stop(context.Background(), newFakeUnits(false), m, fastStop(time.Minute))
	var nr *NotRunningError
	if !errors.As(err, &nr) {
		t.Fatalf("got %v, want NotRunningError", err)
	}
	if _, err := os.Stat(m.Port); !errors.Is(err, os.ErrNotExist) {
		t.Error("a stale port file survived")
	}
}
