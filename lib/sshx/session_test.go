package sshx

import (
	"bytes"
	"context"
	"errors"
	"os"
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

// Prepare writes a private configuration that Close removes.
func TestPrepareAndClose(t *testing.T) {
	l, tg := testTarget(t)
	bin := t.TempDir()
	write(t, bin+"/ssh", "#!/bin/sh\n", 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	s, err := Prepare(context.Background(), l, tg, []string{"hostname"}, nil, &bytes.Buffer{}, t.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Args) != 5 || s.Args[1] != "-F" || s.Args[2] != s.Config || s.Args[3] != "virtdev-p" || s.Args[4] != "hostname" {
		t.Errorf("args %q", s.Args)
	}
	if _, err := os.Stat(s.Config); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(s.Config); !os.IsNotExist(err) {
		t.Errorf("the configuration outlived the session: %v", err)
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
