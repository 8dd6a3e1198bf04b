package qemu

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
)

// A machine paused on a full disk is explained by the disk QEMU names
// (a relative name is the machine directory's) and the file system under
// it, with its room.
func TestExamineFullDisk(t *testing.T) {
	m, _, q := running(t, StateIOError)
	q.disks = []Disk{
		{Device: "pflash0", File: "/usr/share/OVMF/OVMF_CODE_4M.fd"},
		{Device: "system", File: m.SystemImage, IOStatus: DiskOK},
		{Device: "home", File: filepath.Base(m.HomeImage), IOStatus: DiskNoSpace},
	}
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
}

// A running machine costs one command: its disks are not asked about.
func TestExamineRunning(t *testing.T) {
	m, _, q := running(t, StateRunning)
	q.disks = []Disk{{Device: "home", File: m.HomeImage, IOStatus: DiskNoSpace}}
	c, err := Examine(context.Background(), m, time.Second)
	if err != nil || c.State != StateRunning || c.Full != nil || c.Space != nil || c.Reason() != "" || c.Err("p") != nil {
		t.Fatalf("Examine = %+v, %v; want running and nothing more", c, err)
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

// What a paused machine's error tells: the reason, the file system to free
// space on, and the ways on.
func TestHaltedErrorMessage(t *testing.T) {
	full := &HaltedError{Name: "p", Condition: Condition{State: StateIOError, Full: []string{"/v/p/home.qcow2"}, Space: &fullDisk}}
	for _, want := range []string{"p is paused: io-error: no space left on /srv (ext4): 4.0 KiB free of 20.0 GiB", "/v/p/home.qcow2", "du -xh -d 2 /srv", "virtdev-resume p", "virtdev-stop p"} {
		if !strings.Contains(full.Error(), want) {
			t.Errorf("message %q does not say %q", full.Error(), want)
		}
	}
	paused := &HaltedError{Name: "p", Condition: Condition{State: StatePaused}}
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
	m, u, q := running(t, StateRunning)
	q.disks = []Disk{{Device: "home", File: m.HomeImage, IOStatus: DiskNoSpace}}
	time.AfterFunc(50*time.Millisecond, func() { q.setState(StateIOError) })
	err := Watch(context.Background(), u, m, watchInterval)
	var halted *HaltedError
	if !errors.As(err, &halted) || !strings.Contains(err.Error(), "no space left on /srv") {
		t.Fatalf("got %v, want a HaltedError naming /srv", err)
	}
}

func TestResume(t *testing.T) {
	const settle = 100 * time.Millisecond
	full := func(t *testing.T, m *fakeQMP, file string) {
		m.disks = []Disk{{Device: "home", File: file, IOStatus: DiskNoSpace}}
	}
	t.Run("paused by a user", func(t *testing.T) {
		m, _, q := running(t, StatePaused)
		found, err := Resume(context.Background(), m, settle)
		if err != nil || found.State != StatePaused || q.continued() != 1 {
			t.Fatalf("Resume = %+v, %v after %d conts", found, err, q.continued())
		}
	})
	t.Run("running", func(t *testing.T) {
		m, _, q := running(t, StateRunning)
		found, err := Resume(context.Background(), m, settle)
		if err != nil || found.State != StateRunning || q.continued() != 0 {
			t.Fatalf("Resume = %+v, %v after %d conts", found, err, q.continued())
		}
	})
	t.Run("disk full", func(t *testing.T) {
		withSpace(t, fullDisk)
		m, _, q := running(t, StateIOError)
		full(t, q, m.HomeImage)
		_, err := Resume(context.Background(), m, settle)
		var halted *HaltedError
		if !errors.As(err, &halted) || halted.Space.Free != fullDisk.Free || q.continued() != 0 {
			t.Fatalf("Resume: %v after %d conts; want a HaltedError and no cont", err, q.continued())
		}
	})
	t.Run("room again", func(t *testing.T) {
		m, _, q := running(t, StateIOError)
		full(t, q, m.HomeImage)
		found, err := Resume(context.Background(), m, settle)
		if err != nil || found.State != StateIOError || q.continued() != 1 {
			t.Fatalf("Resume = %+v, %v after %d conts", found, err, q.continued())
		}
	})
	t.Run("paused again", func(t *testing.T) {
		m, _, q := running(t, StateIOError)
		full(t, q, m.HomeImage)
		q.onCont = func(int) RunState {
			time.AfterFunc(settle/4, func() { q.setState(StateIOError) })
			return StateRunning
		}
		_, err := Resume(context.Background(), m, settle)
		var halted *HaltedError
		if !errors.As(err, &halted) || q.continued() != 1 {
			t.Fatalf("Resume: %v after %d conts; want a HaltedError after one cont", err, q.continued())
		}
	})
	t.Run("failed", func(t *testing.T) {
		m, _, q := running(t, StateGuestPanicked)
		_, err := Resume(context.Background(), m, settle)
		var failed *FailedError
		if !errors.As(err, &failed) || q.continued() != 0 {
			t.Fatalf("Resume: %v after %d conts; want a FailedError", err, q.continued())
		}
	})
}
