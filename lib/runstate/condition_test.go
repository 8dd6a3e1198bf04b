package runstate

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"virtdev/lib/fsutil"
	"virtdev/lib/runstate/qmptest"
)

// A machine paused on a full disk is explained by the disk QEMU names
// (a relative name is the machine directory's) and the file system under
// it, with its room; QEMU is asked about its disks on the one connection.
func TestExamineFullDisk(t *testing.T) {
	f := &qmptest.QEMU{State: string(StateIOError)}
	m := machine(t, f)
	f.Disks = `[{"device": "pflash0", "inserted": {"file": "/usr/share/OVMF/OVMF_CODE_4M.fd"}},
		{"device": "system", "io-status": "ok", "inserted": {"file": "` + m.SystemImage + `"}},
		{"device": "home", "io-status": "nospace", "inserted": {"file": "` + filepath.Base(m.HomeImage) + `"}}]`
	f.Disks = strings.ReplaceAll(f.Disks, "\n", "")
	c, err := Examine(context.Background(), m, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != StateIOError || !slices.Equal(c.Full, []string{m.HomeImage}) || len(c.Failing) != 0 {
		t.Fatalf("Examine = %+v, want the home disk full", c)
	}
	if c.Space == nil || c.Space.MountPoint == "" || c.Space.Size == 0 {
		t.Fatalf("Examine found no file system: %+v", c.Space)
	}
	if reason := c.Reason(); !strings.HasPrefix(reason, "io-error: no space left on "+c.Space.MountPoint) || !strings.Contains(reason, " free of ") {
		t.Errorf("Reason() = %q", reason)
	}
	if !c.HasRoom() {
		t.Errorf("a test directory's file system has no room: %+v", c.Space)
	}
	if got := f.Commands(); got != "qmp_capabilities query-status query-block" {
		t.Errorf("QEMU was asked %s", got)
	}
}

// Without QEMU's word on the disks, the machine's directory tells where
// room is short.
func TestExamineWithoutDisks(t *testing.T) {
	f := &qmptest.QEMU{State: string(StateIOError)} // query-block answers nothing usable
	m := machine(t, f)
	f.Disks = `"no"`
	c, err := Examine(context.Background(), m, time.Second)
	if err != nil || c.State != StateIOError || c.Full != nil || c.Space == nil {
		t.Fatalf("Examine = %+v, %v; want io-error and the directory's file system", c, err)
	}
}

// A running machine costs one command: its disks are not asked about.
func TestExamineRunning(t *testing.T) {
	f := &qmptest.QEMU{State: string(StateRunning), Disks: `[{"device": "home", "io-status": "nospace"}]`}
	m := machine(t, f)
	c, err := Examine(context.Background(), m, time.Second)
	if err != nil || c.State != StateRunning || c.Full != nil || c.Space != nil || c.Reason() != "" {
		t.Fatalf("Examine = %+v, %v; want running and nothing more", c, err)
	}
	if got := f.Commands(); got != "qmp_capabilities query-status" {
		t.Errorf("QEMU was asked %s", got)
	}
}

func TestReason(t *testing.T) {
	space := &fsutil.Space{MountPoint: "/srv", Type: "ext4", Free: 0, Size: 20 << 30}
	for _, c := range []struct {
		cond Condition
		want string
	}{
		{Condition{State: StateIOError, Full: []string{"/p/home.qcow2"}, Space: space}, "io-error: no space left on /srv (ext4): 0 B free of 20.0 GiB"},
		{Condition{State: StateIOError, Full: []string{"/p/home.qcow2"}}, "io-error: no space left for /p/home.qcow2"},
		{Condition{State: StateIOError, Failing: []string{"/p/system.qcow2"}, Space: space}, "io-error: a write to /p/system.qcow2 failed"},
		{Condition{State: StateIOError, Space: space}, "io-error: a write to its disks failed (/srv (ext4): 0 B free of 20.0 GiB)"},
		{Condition{State: StatePaused}, "paused by a user through the monitor"},
		{Condition{State: StateGuestPanicked}, "guest-panicked: the guest's kernel panicked"},
		{Condition{State: "suspended"}, "suspended"},
	} {
		if got := c.cond.Reason(); got != c.want {
			t.Errorf("Reason() of %+v = %q, want %q", c.cond, got, c.want)
		}
	}
}

func TestHasRoom(t *testing.T) {
	for _, c := range []struct {
		cond Condition
		want bool
	}{
		{Condition{State: StatePaused}, true},
		{Condition{State: StateIOError}, true}, // unknown: QEMU finds out
		{Condition{State: StateIOError, Space: &fsutil.Space{Free: ResumeRoom - 1}}, false},
		{Condition{State: StateIOError, Space: &fsutil.Space{Free: ResumeRoom}}, true},
	} {
		if got := c.cond.HasRoom(); got != c.want {
			t.Errorf("HasRoom() of %+v = %v", c.cond, got)
		}
	}
}
