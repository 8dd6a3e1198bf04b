//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// session is a virtdev-maintain running in the background, as a script
// drives one: its stdout read line by line, its stderr kept.
type session struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line; closed at its end
	stderr *lockedBuffer
	done   chan error
	exited chan struct{} // closed once the program has ended
}

type lockedBuffer struct {
	sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.Lock()
	defer b.Unlock()
	return b.Buffer.Write(p)
}

func (b *lockedBuffer) String() string {
	b.Lock()
	defer b.Unlock()
	return b.Buffer.String()
}

func (s *suite) maintain(t *testing.T, args ...string) *session {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "virtdev-maintain"), args...)
	cmd.Env = s.env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	m := &session{cmd: cmd, lines: make(chan string, 4), stderr: &lockedBuffer{}, done: make(chan error, 1), exited: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(m.stderr, testLog{t, "virtdev-maintain"})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		scan := bufio.NewScanner(stdout)
		for scan.Scan() {
			m.lines <- scan.Text()
		}
		close(m.lines)
		err := cmd.Wait()
		close(m.exited)
		m.done <- err
	}()
	// A session a failed test leaves must not leave its machine running.
	t.Cleanup(func() {
		select {
		case <-m.exited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-m.exited:
			case <-time.After(3 * time.Minute):
			}
		}
		if _, err := os.Stat(filepath.Join(s.home, "maintenance", "port")); err == nil {
			s.with("VIRTDEV_STOP_TIMEOUT=10").run(t, 2*time.Minute, "virtdev-stop", "maintenance")
		}
	})
	return m
}

// line waits for the session's next line on stdout.
func (m *session) line(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-m.lines:
		if !ok {
			t.Fatalf("virtdev-maintain ended its output early:\n%s", m.stderr.String())
		}
		return line
	case <-time.After(timeout):
		t.Fatalf("virtdev-maintain printed nothing within %s:\n%s", timeout, m.stderr.String())
	}
	return ""
}

// said waits until the session has said want on stderr.
func (m *session) said(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(m.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("virtdev-maintain did not say %q within %s:\n%s", want, timeout, m.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// end waits for the session to end, and returns its exit status.
func (m *session) end(t *testing.T, timeout time.Duration) int {
	t.Helper()
	for range m.lines {
	}
	select {
	case err := <-m.done:
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &exit):
			return exit.ExitCode()
		}
		t.Fatal(err)
	case <-time.After(timeout):
		t.Fatalf("virtdev-maintain did not end within %s:\n%s", timeout, m.stderr.String())
	}
	return 0
}

// TestMaintain is a whole session on the Debian base, driven as a script
// drives one: --yes, the hooks doing the work, a poweroff over SSH. The
// base is resealed one generation up, with the provision hook's marker and
// without the maintenance machine's host key or machine id; the project
// made on the old base refuses to start, and one made on the new base
// sees the marker.
func TestMaintain(t *testing.T) {
	s := newSuite(t)
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	s.ok(t, time.Minute, "virtdev-create", "old")
	if g := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-generation")); g != "1" {
		t.Fatalf("a new base has generation %s, want 1", g)
	}
	hooks := filepath.Join(s.root, "config", "virtdev", "maintenance")
	s.write(t, filepath.Join(hooks, "provision"), "#!/bin/sh\nset -e\necho maintained | sudo tee /etc/virtdev-e2e-marker >/dev/null\n")
	s.write(t, filepath.Join(hooks, "inventory"), "#!/bin/sh\nls /etc | grep -x 'virtdev-e2e-.*' || true\necho inventory-ran\n")

	begin := time.Now()
	m := s.maintain(t, "--yes")
	port := m.line(t, 10*time.Minute)
	t.Logf("FIGURE maintenance session open: %s", time.Since(begin).Round(100*time.Millisecond))
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("virtdev-maintain printed %q first, want the SSH port", port)
	}
	if got := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-ssh", "maintenance", "cat", "/etc/virtdev-e2e-marker")); got != "maintained" {
		t.Fatalf("the provision hook's marker reads %q in the maintenance machine", got)
	}
	maintenanceKey := s.hostKey(t, "maintenance")
	maintenanceID := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-ssh", "maintenance", "cat", "/etc/machine-id"))
	// A script ends the session with a poweroff over SSH; ssh may see the
	// connection cut.
	s.run(t, 2*time.Minute, "virtdev-ssh", "maintenance", "sudo", "poweroff")
	generation := m.line(t, 5*time.Minute)
	if code := m.end(t, 5*time.Minute); code != 0 {
		t.Fatalf("virtdev-maintain exited %d:\n%s", code, m.stderr.String())
	}
	t.Logf("FIGURE maintenance session, start to reseal: %s", time.Since(begin).Round(100*time.Millisecond))
	if generation != "2" {
		t.Errorf("virtdev-maintain printed generation %q, want 2", generation)
	}
	stderr := m.stderr.String()
	for _, want := range []string{"+virtdev-e2e-marker", "Base resealed: generation 2 (was 1)", "old", "virtdev-upgrade"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("virtdev-maintain did not say %q", want)
		}
	}
	if g := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-generation")); g != "2" {
		t.Errorf("virtdev-generation says %s after the reseal, want 2", g)
	}
	sys := filepath.Join(s.home, "system")
	for _, name := range []string{"system.qcow2", "home.qcow2", "nvram", "generation"} {
		if info, err := os.Stat(filepath.Join(sys, name)); err != nil || info.Mode().Perm() != 0o444 {
			t.Errorf("%s after the reseal: %v, %v; want mode 444", name, info, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(s.home, "maintenance")); err == nil {
		t.Error("the staging directory outlived the reseal")
	}

	s.refuses(t, 13, "the base changed since project \"old\" was created (base generation 2, project generation 1)", "virtdev-start", "old")

	s.ok(t, time.Minute, "virtdev-create", "new")
	s.ok(t, time.Minute, "virtdev-start", "new")
	s.ok(t, 6*time.Minute, "virtdev-wait", "new")
	if got := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-ssh", "new", "cat", "/etc/virtdev-e2e-marker")); got != "maintained" {
		t.Errorf("a project made on the new base reads the marker as %q", got)
	}
	if key := s.hostKey(t, "new"); key == maintenanceKey {
		t.Error("a project made on the new base has the maintenance machine's host key")
	}
	if id := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-ssh", "new", "cat", "/etc/machine-id")); id == maintenanceID {
		t.Error("a project made on the new base has the maintenance machine's machine id")
	}
	if out := s.ok(t, time.Minute, "virtdev-ssh", "new", "ls", "/etc/systemd/system", "/var/lib"); strings.Contains(out, "virtdev-maintenance") {
		t.Errorf("the seal left itself in the base:\n%s", out)
	}
	s.stopsCleanly(t, "new")
}

// TestMaintainNotResealed stops maintenance machines from the host before
// their guest is up: with SIGTERM to QEMU, with SIGKILL, and with
// virtdev-stop maintenance. None is resealed; each has its own exit
// status, and the base stays byte for byte as it was.
func TestMaintainNotResealed(t *testing.T) {
	s := newSuite(t)
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	sys, staging := filepath.Join(s.home, "system"), filepath.Join(s.home, "maintenance")
	before := checksums(t, sys)
	for _, c := range []struct {
		how  string
		code int
		want string
	}{
		{"SIGTERM", 25, "was stopped from the host"},
		{"SIGKILL", 26, "without reporting a shutdown"},
		{"virtdev-stop", 24, "the session was aborted: virtdev-stop stopped the maintenance machine"},
	} {
		t.Run(c.how, func(t *testing.T) {
			m := s.maintain(t, "--yes", "--no-provision", "--no-inventory")
			m.said(t, "waiting for SSH", 5*time.Minute)
			switch c.how {
			case "virtdev-stop":
				// The guest is still in its firmware, deaf to the button.
				r := s.with("VIRTDEV_STOP_TIMEOUT=1").run(t, 2*time.Minute, "virtdev-stop", "maintenance")
				if r.code != 10 {
					t.Errorf("virtdev-stop maintenance exited %d, want 10 (forced)", r.code)
				}
			default:
				pid, err := os.ReadFile(filepath.Join(staging, "qemu.pid"))
				if err != nil {
					t.Fatal(err)
				}
				n, err := strconv.Atoi(strings.TrimSpace(string(pid)))
				if err != nil {
					t.Fatalf("qemu.pid holds %q", pid)
				}
				sig := map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL}[c.how]
				if err := syscall.Kill(n, sig); err != nil {
					t.Fatal(err)
				}
			}
			if code := m.end(t, 5*time.Minute); code != c.code {
				t.Fatalf("virtdev-maintain exited %d after %s, want %d", code, c.how, c.code)
			}
			stderr := m.stderr.String()
			for _, want := range []string{c.want, "The sealed base is unchanged", "rm -rf " + staging} {
				if !strings.Contains(stderr, want) {
					t.Errorf("virtdev-maintain did not say %q", want)
				}
			}
			if err := sameSums(before, checksums(t, sys)); err != nil {
				t.Errorf("the base changed: %v", err)
			}
			s.refuses(t, 11, "rm -rf "+staging, "virtdev-maintain", "--yes")
			if err := os.RemoveAll(staging); err != nil {
				t.Fatal(err)
			}
		})
	}
	if g := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-generation")); g != "1" {
		t.Errorf("generation %s after sessions that were not resealed, want 1", g)
	}
}
