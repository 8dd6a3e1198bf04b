//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUpgrade moves a running project to a new base with virtdev-upgrade,
// driven as a script drives it: --yes, and the maintenance machine powered
// off over SSH once it answers. What the project's manifest lists comes
// back on the new base, with what the maintenance put there; what the
// manifest leaves out does not.
func TestUpgrade(t *testing.T) {
	s := newSuite(t)
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	const p = "e2e-upgrade"
	s.ok(t, time.Minute, "virtdev-create", p)
	config := filepath.Join(s.root, "config", "virtdev")
	s.write(t, filepath.Join(config, "projects", p, "manifest"), "kept/\n")
	s.write(t, filepath.Join(config, "maintenance", "provision"),
		"#!/bin/sh\nset -e\necho upgraded | sudo tee /etc/virtdev-e2e-upgraded >/dev/null\n")
	s.ok(t, time.Minute, "virtdev-start", p)
	s.ok(t, 6*time.Minute, "virtdev-wait", p)
	s.ok(t, time.Minute, "virtdev-ssh", p, "--", "mkdir -p kept && echo state > kept/file && echo scratch > lost")

	began := time.Now()
	cmd := exec.Command(filepath.Join(s.bin, "virtdev-upgrade"), "--yes")
	cmd.Env = s.env
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(stderr, testLog{t, "virtdev-upgrade"})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			<-done
		}
	})

	// Phase 2: the maintenance machine. Once the session is open (the
	// machine is ready to seal itself), a script's poweroff ends it and
	// the base is resealed.
	for deadline := time.Now().Add(10 * time.Minute); !strings.Contains(stderr.String(), "The session is open."); time.Sleep(time.Second) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("virtdev-upgrade ended (%v) before its maintenance session opened:\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no maintenance session within 10 minutes:\n%s", stderr)
		}
	}
	s.run(t, 2*time.Minute, "virtdev-ssh", "maintenance", "sudo", "poweroff")

	select {
	case err := <-done:
		done <- err
		var exit *exec.ExitError
		if errors.As(err, &exit) || err != nil {
			t.Fatalf("virtdev-upgrade failed (%v):\n%s", err, stderr)
		}
	case <-time.After(20 * time.Minute):
		t.Fatalf("virtdev-upgrade did not end within 20 minutes after the maintenance:\n%s", stderr)
	}
	t.Logf("FIGURE upgrade of one running project (backup, maintenance, reseal, recreate, restore): %s", time.Since(began).Round(100*time.Millisecond))

	if !regexp.MustCompile(`(?m)^` + p + ` +upgraded +\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d$`).MatchString(stdout.String()) {
		t.Errorf("virtdev-upgrade's summary does not say %s was upgraded from a snapshot:\n%s", p, stdout.String())
	}
	if g := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-generation")); g != "2" {
		t.Errorf("the base's generation after the upgrade is %s, want 2", g)
	}
	if got, base := s.read(t, s.path(t, p, "generation")), s.read(t, s.path(t, "base", "generation")); got != base {
		t.Errorf("the project's generation %q is not the new base's %q", got, base)
	}
	if got := s.ok(t, time.Minute, "virtdev-ssh", p, "--", "cat kept/file /etc/virtdev-e2e-upgraded; test -e lost && echo lost-kept || echo lost-gone"); got != "state\nupgraded\nlost-gone\n" {
		t.Errorf("after the upgrade the guest says %q; want the manifest's file, the maintenance's marker, and nothing else of the old machine", got)
	}
	s.stopsCleanly(t, p)
}
