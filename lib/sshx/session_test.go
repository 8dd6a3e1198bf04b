package sshx

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestPrepareWithoutSSH(t *testing.T) {
	l, tg := testTarget(t)
	t.Setenv("PATH", t.TempDir())
	if _, err := Prepare(context.Background(), l, tg, nil, nil, &bytes.Buffer{}, t.Errorf); !errors.Is(err, ErrNoSSH) {
		t.Errorf("got %v, want ErrNoSSH", err)
	}
}

// A signal sent to virtdev-ssh alone reaches ssh, and ssh's death by it is
// passed on as 128+n, as a shell reports it.
func TestSessionRunPassesSignalsAndStatus(t *testing.T) {
	s := &Session{SSH: "/bin/sh", Args: []string{"ssh", "-c", "kill -TERM $PPID; exec sleep 10"}}
	start := time.Now()
	status, err := s.Run()
	if err != nil || status != 128+int(syscall.SIGTERM) {
		t.Errorf("got %d, %v; want %d", status, err, 128+int(syscall.SIGTERM))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the child outlived the signal: %v", d)
	}
	s.Args = []string{"ssh", "-c", "exit 42"}
	if status, err := s.Run(); err != nil || status != 42 {
		t.Errorf("got %d, %v; want 42", status, err)
	}
}
