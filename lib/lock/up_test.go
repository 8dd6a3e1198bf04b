package lock_test

import (
	"os"
	"syscall"
	"testing"

	"virtdev/lib/lock"
)

func TestUp(t *testing.T) {
	l := newLayout(t)
	m := l.Project("p")
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if lock.IsUp(m) {
		t.Fatal("up without an up file")
	}
	up, err := lock.HoldUp(m)
	if err != nil {
		t.Fatal(err)
	}
	if !lock.IsUp(m) {
		t.Error("not up while the lock is held")
	}
	up.Release()
	if lock.IsUp(m) {
		t.Error("still up once released")
	}
	if _, err := os.Stat(m.Up); err != nil {
		t.Errorf("the up file went with the lock: %v", err)
	}
}

// The lock ends with its holder, however it ends.
func TestUpEndsWithItsHolder(t *testing.T) {
	l := newLayout(t)
	m := l.Project("p")
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pid := holder(t, l, "virtdev-supervise", "up")
	if !lock.IsUp(m) {
		t.Fatal("not up while another process holds the lock")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
	if lock.IsUp(m) {
		t.Error("still up after its holder was killed")
	}
}
