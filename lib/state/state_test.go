package state

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"virtdev/lib/layout"
	"virtdev/lib/qemu"
)

func TestClassify(t *testing.T) {
	m := layout.Layout{Home: t.TempDir()}.Project("p")
	busy := errors.New("QMP monitor busy")
	for _, c := range []struct {
		active string
		status qemu.RunState
		qerr   error
		want   Word
		reason string // a part of the reason; "" for none
	}{
		{"", "", nil, Stopped, ""},
		{"inactive", "", fs.ErrNotExist, Stopped, ""},
		{"failed", "", nil, Stopped, "its last run failed"},
		{"activating", "", fs.ErrNotExist, Starting, ""},
		{"deactivating", qemu.StateRunning, nil, Stopping, ""},
		{"active", qemu.StateRunning, nil, Running, ""},
		{"reloading", qemu.StateRunning, nil, Running, ""},
		{"active", qemu.StateIOError, nil, Paused, "a write to one of its disks failed"},
		{"active", qemu.StatePaused, nil, Paused, "paused"},
		{"active", qemu.StateSuspended, nil, Paused, "virtdev-monitor p system_wakeup"},
		{"active", "debug", nil, Paused, "QEMU reports it debug"},
		{"active", qemu.StateInternalError, nil, Failed, "a virtual CPU met an error"},
		{"active", qemu.StateGuestPanicked, nil, Failed, "the guest's kernel panicked"},
		{"active", qemu.StateShutdown, nil, Stopping, "powered off"},
		{"active", "", busy, Running, "QEMU's own status is unknown: QMP monitor busy"},
		{"active", "", fs.ErrNotExist, Running, "monitor socket " + m.Monitor + " is missing"},
	} {
		got := Classify(m, c.active, c.status, c.qerr)
		if got.State != c.want || (c.reason == "") != (got.Reason == "") || !strings.Contains(got.Reason, c.reason) {
			t.Errorf("unit %q, QEMU %q, %v: got %+v, want %s with a reason containing %q", c.active, c.status, c.qerr, got, c.want, c.reason)
		}
		if runs := c.active == "active" || c.active == "reloading"; runs && c.qerr == nil && got.QEMU != c.status {
			t.Errorf("unit %q, QEMU %q: QEMU status %q not kept", c.active, c.status, got.QEMU)
		}
	}
}

// A unit that failed is explained by the record of how the machine ended.
func TestClassifyFailedUnitReadsShutdownRecord(t *testing.T) {
	m := layout.Layout{Home: t.TempDir()}.Project("p")
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rec := qemu.Shutdown{How: qemu.Unknown, Exit: "killed by signal 6 (aborted)", Time: time.Now()}
	if err := qemu.WriteShutdown(m.Shutdown, rec); err != nil {
		t.Fatal(err)
	}
	got := Classify(m, "failed", "", nil)
	if got.State != Stopped || !strings.Contains(got.Reason, "killed by signal 6") {
		t.Errorf("got %+v, want stopped with the record's account", got)
	}
}

func TestExplain(t *testing.T) {
	for _, c := range []struct {
		s    State
		want string
	}{
		{State{State: Running, QEMU: qemu.StateRunning}, ""},
		{State{State: Paused, QEMU: qemu.StateIOError, Reason: "full"}, "p is paused (QEMU status io-error): full"},
		{State{State: Stopped, Reason: "its last run failed"}, "p is stopped: its last run failed"},
	} {
		if got := c.s.Explain("p"); got != c.want {
			t.Errorf("%+v: Explain = %q, want %q", c.s, got, c.want)
		}
	}
}
