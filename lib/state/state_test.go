package state

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/runstate"
	"virtdev/lib/runstate/qmptest"
	"virtdev/lib/userbus"
)

func TestClassify(t *testing.T) {
	m := layout.Layout{Home: t.TempDir()}.Project("p")
	busy := errors.New("QMP monitor busy")
	for _, c := range []struct {
		active string
		status runstate.RunState
		qerr   error
		want   Word
		reason string // a part of the reason; "" for none
	}{
		{"", "", nil, Stopped, ""},
		{"inactive", "", fs.ErrNotExist, Stopped, ""},
		{"failed", "", nil, Stopped, ""},
		{"activating", "", fs.ErrNotExist, Starting, ""},
		{"deactivating", runstate.StateRunning, nil, Stopping, ""},
		{"active", runstate.StateRunning, nil, Running, ""},
		{"reloading", runstate.StateRunning, nil, Running, ""},
		{"active", runstate.StateIOError, nil, Paused, "a write to one of its disks failed"},
		{"active", runstate.StatePaused, nil, Paused, "paused"},
		{"active", runstate.StateSuspended, nil, Paused, "virtdev-monitor p system_wakeup"},
		{"active", "debug", nil, Paused, "QEMU reports it debug"},
		{"active", runstate.StateInternalError, nil, Failed, "a virtual CPU met an error"},
		{"active", runstate.StateGuestPanicked, nil, Failed, "the guest's kernel panicked"},
		{"active", runstate.StateShutdown, nil, Stopping, "powered off"},
		{"active", "", busy, Running, "QEMU's own status is unknown: QMP monitor busy"},
		{"active", "", fs.ErrNotExist, Running, "monitor socket " + m.Monitor + " is missing"},
	} {
		got := Classify(m, c.active, c.status, c.qerr, "")
		if got.State != c.want || (c.reason == "") != (got.Reason == "") || !strings.Contains(got.Reason, c.reason) {
			t.Errorf("unit %q, QEMU %q, %v: got %+v, want %s with a reason containing %q", c.active, c.status, c.qerr, got, c.want, c.reason)
		}
		if runs := c.active == "active" || c.active == "reloading"; runs && c.qerr == nil && got.QEMU != c.status {
			t.Errorf("unit %q, QEMU %q: QEMU status %q not kept", c.active, c.status, got.QEMU)
		}
	}
}

// A machine whose QEMU ended without a shutdown is explained by the
// record of how it ended; one that powered off, or was stopped, is not.
func TestClassifyReadsShutdownRecord(t *testing.T) {
	m := layout.Layout{Home: t.TempDir()}.Project("p")
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for how, want := range map[string]string{
		runstate.Unknown: "its last run ended abnormally (QEMU reported no shutdown, QEMU killed by signal 6 (aborted)",
		runstate.Clean:   "",
		runstate.Forced:  "",
	} {
		rec := runstate.Shutdown{How: how, Exit: "killed by signal 6 (aborted)", Time: time.Now()}
		if err := runstate.WriteShutdown(m.Shutdown, rec); err != nil {
			t.Fatal(err)
		}
		for _, active := range []string{"failed", "inactive", ""} {
			got := Classify(m, active, "", nil, LastRun(m))
			if got.State != Stopped || !strings.HasPrefix(got.Reason, want) || (want == "") != (got.Reason == "") {
				t.Errorf("%s run, unit %q: got %+v, want stopped with reason %q", how, active, got, want)
			}
		}
	}
}

// Of does not ask systemd about a machine without a port file: here,
// without a user bus, asking would fail.
func TestOfWithoutPortFile(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	m := layout.Layout{Home: t.TempDir()}.Project("p")
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if s, err := Of(context.Background(), m); err != nil || s.State != Stopped {
		t.Errorf("Of = %+v, %v; want stopped", s, err)
	}
	os.WriteFile(m.Port, []byte("2222\n"), 0o644)
	if _, err := Of(context.Background(), m); err == nil {
		t.Error("with a port file, systemd was not asked")
	}
}

func TestExplain(t *testing.T) {
	for _, c := range []struct {
		s    State
		want string
	}{
		{State{State: Running, QEMU: runstate.StateRunning}, ""},
		{State{State: Paused, QEMU: runstate.StateIOError, Reason: "full"}, "p is paused (QEMU status io-error): full"},
		{State{State: Stopped, Reason: "its last run failed"}, "p is stopped: its last run failed"},
	} {
		if got := c.s.Explain("p"); got != c.want {
			t.Errorf("%+v: Explain = %q, want %q", c.s, got, c.want)
		}
	}
}

// While the machine's supervisor holds its up lock, Of asks QEMU alone
// and CheckRunning nobody; without it, both ask systemd (here, a bus that
// is not there).
func TestSystemdIsAskedOnlyWithoutTheUpLock(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	m := layout.Layout{Home: t.TempDir()}.Project("p")
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.Port, []byte("2222\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	qmptest.Serve(t, m.Monitor, &qmptest.QEMU{State: string(runstate.StatePaused)})

	var bus *userbus.BusError
	if _, err := Of(context.Background(), m); !errors.As(err, &bus) {
		t.Fatalf("without the up lock: %v, want the bus asked and found missing", err)
	}
	if _, err := CheckRunning(context.Background(), m); !errors.As(err, &bus) {
		t.Fatalf("CheckRunning without the up lock: %v, want the bus asked and found missing", err)
	}
	up, err := lock.HoldUp(m)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Release()
	if s, err := Of(context.Background(), m); err != nil || s.State != Paused || s.QEMU != runstate.StatePaused {
		t.Fatalf("with the up lock: %+v, %v; want paused, from QEMU", s, err)
	}
	if port, err := CheckRunning(context.Background(), m); port != 2222 || err != nil {
		t.Fatalf("CheckRunning with the up lock: %d, %v; want 2222 without asking the bus", port, err)
	}
}
