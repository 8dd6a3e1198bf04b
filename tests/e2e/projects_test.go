//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Exit codes of the lifecycle programs the suite pins.
const (
	lifecycleRunning = 7 // shared: the machine runs and must be stopped
	detachOutdated   = 14
)

// TestProjectLifecycle takes one project through detach, move, destroy
// and nuke on a real guest, with two boots: one to write files and pin
// the host key, one after the detach, the move and a new base generation
// to find them all again.
func TestProjectLifecycle(t *testing.T) {
	s := newSuite(t)
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	base := s.path(t, "base")
	const p, attached, moved = "e2e-life", "e2e-attached", "e2e-moved"
	s.ok(t, time.Minute, "virtdev-create", p)
	s.ok(t, time.Minute, "virtdev-create", attached)

	// Boot 1: files on both disks, and the host key pinned.
	s.ok(t, time.Minute, "virtdev-start", p)
	s.ok(t, 6*time.Minute, "virtdev-wait", p)
	s.ok(t, time.Minute, "virtdev-ssh", p, "--",
		"echo kept > /home/dev/marker && echo system | sudo tee /etc/e2e-marker >/dev/null && sync")
	hostKey := s.hostKey(t, p)
	for _, refused := range [][]string{
		{"virtdev-destroy", "--yes", p}, {"virtdev-detach", "--yes", p}, {"virtdev-move", p, moved},
	} {
		s.refuses(t, lifecycleRunning, "virtdev-stop "+p, refused[0], refused[1:]...)
	}
	s.stopsCleanly(t, p)

	// Detached, the project no longer reads through to the base.
	started := time.Now()
	s.ok(t, 10*time.Minute, "virtdev-detach", "--yes", p)
	t.Logf("FIGURE detach of the CI guest: %s", time.Since(started).Round(100*time.Millisecond))
	if g := s.read(t, s.path(t, p, "generation")); g != "detached\n" {
		t.Fatalf("generation after detach: %q", g)
	}

	// Moved, with a backup and a configuration. virtdev-backup is not
	// there yet: the snapshot is laid out by hand as it writes them, and
	// the move must carry it, re-marked, to the new name.
	snapshot := filepath.Join(s.path(t, p, "backups"), "2026-01-02", "03-04-05")
	s.write(t, filepath.Join(snapshot, "project"), p+"\n")
	s.write(t, filepath.Join(snapshot, "tree", "notes"), "from the host\n")
	s.write(t, filepath.Join(s.path(t, p, "config"), "provision"), "true\n")
	dir := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-move", p, moved))
	if dir != s.path(t, moved) {
		t.Errorf("virtdev-move printed %q, want the new directory %s", dir, s.path(t, moved))
	}
	movedSnapshot := filepath.Join(s.path(t, moved, "backups"), "2026-01-02", "03-04-05")
	if got := s.read(t, filepath.Join(movedSnapshot, "project")); got != moved+"\n" {
		t.Errorf("the moved snapshot names %q, want %q", got, moved)
	}
	if got := s.read(t, filepath.Join(movedSnapshot, "tree", "notes")); got != "from the host\n" {
		t.Errorf("the moved snapshot holds %q", got)
	}
	s.read(t, filepath.Join(s.path(t, moved, "config"), "provision"))
	pinned := func(when string) {
		known := strings.TrimSpace(s.read(t, filepath.Join(s.path(t, moved), "known_hosts")))
		if !strings.HasPrefix(known, "virtdev-"+moved+" ") || strings.Contains(known, "\n") || !strings.Contains(known, hostKey) {
			t.Errorf("known_hosts %s: %q, want the one key pinned under virtdev-%s", when, known, moved)
		}
	}
	pinned("after the move")
	for _, gone := range []string{filepath.Dir(filepath.Dir(snapshot)), filepath.Join(filepath.Dir(s.path(t, moved)), p)} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the move: %v", gone, err)
		}
	}

	// A new base generation: the attached project is refused, the
	// detached one boots (boot 2) with its files, its new host name and
	// the host key it had, pinned under its new name.
	generation := filepath.Join(base, "generation")
	rewriteSealed(t, generation, "999\n")
	s.refuses(t, startBaseChanged, "virtdev-recreate", "virtdev-start", attached)
	s.refuses(t, detachOutdated, "base generation", "virtdev-detach", "--yes", attached)
	s.ok(t, time.Minute, "virtdev-start", moved)
	s.ok(t, 6*time.Minute, "virtdev-wait", moved)
	if got := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-ssh", moved, "cat /home/dev/marker /etc/e2e-marker; hostname")); got != "kept\nsystem\n"+moved {
		t.Errorf("after detach and move the guest shows %q, want its files and the host name %s", got, moved)
	}
	if key := s.hostKey(t, moved); key != hostKey {
		t.Errorf("the host key changed: %q, then %q", hostKey, key)
	}
	pinned("after a login under the new name")
	s.stopsCleanly(t, moved)

	// Destroyed, the project leaves its backups and configuration.
	s.ok(t, time.Minute, "virtdev-destroy", "--yes", moved)
	s.read(t, filepath.Join(movedSnapshot, "project"))
	s.read(t, filepath.Join(s.root, "config", "virtdev", "projects", moved, "provision"))

	// Nuked, everything goes but the configuration.
	out := s.ok(t, time.Minute, "virtdev-nuke", "--yes")
	if want := filepath.Join(s.root, "data") + "\n" + filepath.Join(s.root, "cache") + "\n"; out != want {
		t.Errorf("virtdev-nuke printed %q, want %q", out, want)
	}
	for _, gone := range []string{"data", "cache"} {
		if _, err := os.Stat(filepath.Join(s.root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s survived the nuke: %v", gone, err)
		}
	}
	s.read(t, filepath.Join(s.root, "config", "virtdev", "projects", moved, "provision"))
}

func (s *suite) read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func (s *suite) write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
