//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Exit codes the suite pins; each program documents them in its --help.
const (
	createExists       = 10
	startRunning       = 7
	startBaseChanged   = 13
	startBootFailed    = 17
	stopNotRunning     = 4
	stopForced         = 10
	sshNotRunning      = 4
	waitFailed         = 11
	sealAlreadySealed  = 11
	bootstrapInstalled = 10
)

// TestLifecycle takes a user from nothing to a shell in a VM and back, on a
// real guest: key, bootstrap, seal, create, start, wait, ssh, stop (with
// monitors asking meanwhile), and the refusals in between.
func TestLifecycle(t *testing.T) {
	s := newSuite(t)
	s.installation(t)
	s.refuses(t, bootstrapInstalled, "already exists", "virtdev-bootstrap")
	s.ok(t, time.Minute, "virtdev-seal")
	base := s.path(t, "base")
	sealed := checksums(t, base)
	s.refuses(t, sealAlreadySealed, "already sealed", "virtdev-seal")

	const p = "e2e-p"
	s.ok(t, time.Minute, "virtdev-create", p)
	s.refuses(t, createExists, "already exists", "virtdev-create", p)

	booted := time.Now()
	port := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-start", p))
	if port == "" {
		t.Fatal("virtdev-start printed no port")
	}
	s.refuses(t, startRunning, "already running", "virtdev-start", p)
	s.ok(t, 6*time.Minute, "virtdev-wait", p)
	t.Logf("FIGURE boot to SSH (start to wait returning): %s", time.Since(booted).Round(100*time.Millisecond))

	if got := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-ssh", p, "hostname")); got != p {
		t.Fatalf("the guest's hostname is %q, want the project name %q", got, p)
	}
	s.ok(t, time.Minute, "virtdev-ssh", p, "--", "echo kept > /home/dev/marker && sync")
	hostKey := s.hostKey(t, p)
	firstHostKey = hostKey

	s.stopWhileMonitored(t, p)
	if rec := s.shutdown(t, p); rec.How != "clean" || !rec.Guest {
		t.Errorf("shutdown record %+v, want a clean stop by the guest", rec)
	}

	// A stop right after wait, as a script would issue it: the guest is
	// still settling, and the power button must be pressed until it
	// listens.
	s.ok(t, time.Minute, "virtdev-start", p)
	s.ok(t, 6*time.Minute, "virtdev-wait", p)
	stopped := time.Now()
	r := s.run(t, 3*time.Minute, "virtdev-stop", p)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "clean" {
		t.Fatalf("virtdev-stop right after wait: exit %d, stdout %q; want 0 and \"clean\":\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("FIGURE stop right after wait: %s", time.Since(stopped).Round(100*time.Millisecond))
	if rec := s.shutdown(t, p); rec.How != "clean" || !rec.Guest {
		t.Errorf("shutdown record %+v, want a clean stop by the guest", rec)
	}
	if _, err := os.Stat(s.path(t, p, "port")); !os.IsNotExist(err) {
		t.Errorf("the port file outlived the VM: %v", err)
	}

	s.refuses(t, stopNotRunning, "not running", "virtdev-stop", p)
	s.refuses(t, sshNotRunning, "not running", "virtdev-ssh", p, "true")

	// The home disk keeps what the user wrote across a reboot.
	s.ok(t, time.Minute, "virtdev-start", p)
	s.ok(t, 6*time.Minute, "virtdev-wait", p)
	if got := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-ssh", p, "cat", "/home/dev/marker")); got != "kept" {
		t.Fatalf("/home/dev/marker holds %q after a reboot, want %q", got, "kept")
	}
	if again := s.hostKey(t, p); again != hostKey {
		t.Errorf("the guest's host key changed across a reboot: %q, then %q", hostKey, again)
	}

	// A guest whose kernel panics is noticed at once, and stopped for
	// what it is. ssh hears no more from the guest once it has panicked,
	// and gives up after a few unanswered keepalives: by then the guest
	// is dead for sure.
	r = s.run(t, time.Minute, "virtdev-ssh", p, "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=2", "--",
		"sudo sh -c 'echo c > /proc/sysrq-trigger'")
	if r.code != 255 {
		t.Fatalf("ssh to a guest that panicked: exit %d, want 255 (no answer):\n%s", r.code, r.stderr)
	}
	s.diesWhileWaited(t, p, "guest-panicked")

	// A base resealed since the project was made is refused at start. The
	// generation is bumped by hand, as a reseal would.
	generation := filepath.Join(base, "generation")
	original, err := os.ReadFile(generation)
	if err != nil {
		t.Fatal(err)
	}
	rewriteSealed(t, generation, "999\n")
	s.refuses(t, startBaseChanged, "virtdev-recreate", "virtdev-start", p)
	rewriteSealed(t, generation, string(original))

	if err := sameSums(sealed, checksums(t, base)); err != nil {
		t.Errorf("the sealed base changed: %v", err)
	}
}

// TestForcedStop proves a guest that ignores the power button is stopped
// all the same, and reported as forced rather than clean.
func TestForcedStop(t *testing.T) {
	s := newSuite(t)
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	base := s.path(t, "base")
	sealed := checksums(t, base)
	const p = "e2e-deaf"
	s.ok(t, time.Minute, "virtdev-create", p)
	s.ok(t, time.Minute, "virtdev-start", p)
	s.ok(t, 6*time.Minute, "virtdev-wait", p)
	// Every machine has its own host key, made on the host; none comes
	// with the base.
	if key := s.hostKey(t, p); firstHostKey != "" && key == firstHostKey {
		t.Errorf("two machines from one base share the host key %q: it was baked into the base", key)
	}
	s.ok(t, time.Minute, "virtdev-ssh", p, "--",
		"sudo mkdir -p /etc/systemd/logind.conf.d && "+
			"printf '[Login]\\nHandlePowerKey=ignore\\n' | sudo tee /etc/systemd/logind.conf.d/deaf.conf >/dev/null && "+
			"sudo systemctl restart systemd-logind")

	started := time.Now()
	r := s.with("VIRTDEV_STOP_TIMEOUT=10").run(t, 3*time.Minute, "virtdev-stop", p)
	if r.code != stopForced || strings.TrimSpace(r.stdout) != "forced" {
		t.Fatalf("virtdev-stop of a guest ignoring the power button: exit %d, stdout %q; want %d and \"forced\":\n%s", r.code, r.stdout, stopForced, r.stderr)
	}
	if rec := s.shutdown(t, p); rec.How != "forced" || rec.Guest {
		t.Errorf("shutdown record %+v, want a forced stop, not the guest's", rec)
	}
	if took := time.Since(started); took < 10*time.Second {
		t.Errorf("forced after %s, before VIRTDEV_STOP_TIMEOUT=10 ran out", took)
	}
	if _, err := os.Stat(s.path(t, p, "port")); !os.IsNotExist(err) {
		t.Errorf("the port file outlived the VM: %v", err)
	}
	s.refuses(t, stopNotRunning, "not running", "virtdev-stop", p)
	if err := sameSums(sealed, checksums(t, base)); err != nil {
		t.Errorf("the sealed base changed: %v", err)
	}
}

// diesWhileWaited expects virtdev-wait to see a failed machine in state
// within 15 seconds, and virtdev-stop to send SIGTERM at once, saying the
// guest was not running.
func (s *suite) diesWhileWaited(t *testing.T, project, state string) {
	t.Helper()
	began := time.Now()
	r := s.run(t, time.Minute, "virtdev-wait", project)
	s.waitSawFailure(t, r, time.Since(began), state)
	s.stopsNotRunning(t, project, state)
}

// waitSawFailure checks what virtdev-wait said of a machine in state.
func (s *suite) waitSawFailure(t *testing.T, r result, took time.Duration, state string) {
	t.Helper()
	t.Logf("FIGURE wait on a machine in %s: %s", state, took.Round(100*time.Millisecond))
	if r.code != waitFailed || !strings.Contains(r.stderr, state) {
		t.Fatalf("virtdev-wait on a machine in %s: exit %d, want %d naming the state:\n%s", state, r.code, waitFailed, r.stderr)
	}
	if took > 15*time.Second {
		t.Errorf("virtdev-wait took %s to see the machine in %s, want under 15s", took, state)
	}
}

// stopsNotRunning stops a machine in state: at once, by SIGTERM, saying
// that the guest was not running.
func (s *suite) stopsNotRunning(t *testing.T, project, state string) {
	t.Helper()
	r := s.run(t, time.Minute, "virtdev-stop", project)
	if r.code != stopForced || strings.TrimSpace(r.stdout) != "forced" || !strings.Contains(r.stderr, "the guest was not running (QEMU status "+state+")") {
		t.Fatalf("virtdev-stop of a machine in %s: exit %d, stdout %q; want %d, forced, and the guest not running:\n%s", state, r.code, r.stdout, stopForced, r.stderr)
	}
	if rec := s.shutdown(t, project); rec.How != "forced" || rec.State != state || rec.Presses != 0 {
		t.Errorf("shutdown record %+v, want forced in %s without a press", rec, state)
	}
}

// stopsCleanly stops a project and expects the guest's own poweroff.
func (s *suite) stopsCleanly(t *testing.T, project string) {
	t.Helper()
	if out := strings.TrimSpace(s.ok(t, 3*time.Minute, "virtdev-stop", project)); out != "clean" {
		t.Fatalf("virtdev-stop %s printed %q, want \"clean\"", project, out)
	}
}

// firstHostKey is the host key of TestLifecycle's machine, for
// TestForcedStop to compare with; empty when that test did not get so far.
var firstHostKey string

// hostKey reads the public half of the ed25519 host key the guest serves,
// which it was handed at boot.
func (s *suite) hostKey(t *testing.T, project string) string {
	t.Helper()
	fields := strings.Fields(s.ok(t, time.Minute, "virtdev-ssh", project, "cat", "/run/virtdev/ssh_host_ed25519_key.pub"))
	if len(fields) < 2 {
		t.Fatalf("%s has no ed25519 host key", project)
	}
	return fields[1]
}

// shutdownRecord is what virtdev-stop records of how a machine ended.
type shutdownRecord struct {
	How     string `json:"how"`
	Guest   bool   `json:"guest"`
	State   string `json:"state"`
	Presses int    `json:"presses"`
}

func (s *suite) shutdown(t *testing.T, project string) shutdownRecord {
	t.Helper()
	data, err := os.ReadFile(s.path(t, project, "shutdown"))
	if err != nil {
		t.Fatalf("no shutdown record: %v", err)
	}
	var rec shutdownRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("shutdown record: %v", err)
	}
	return rec
}

// rewriteSealed rewrites a sealed (444) file, as only a reseal would.
func rewriteSealed(t *testing.T, path, content string) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
}
