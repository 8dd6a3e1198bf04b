//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// paused is the shared exit code of a machine QEMU paused.
const paused = 87

// smallHome is a VIRTDEV_HOME whose projects directory is a small file
// system of its own, which the test user may fill: .ci/run, as root,
// makes the directory and mounts a tmpfs of 256 MiB on projects/. The
// base stays on the disk: only the projects' deltas are on the small file
// system. VIRTDEV_E2E_SMALL_HOME names another such directory.
func smallHome(t *testing.T) (home, projects string) {
	t.Helper()
	home = os.Getenv("VIRTDEV_E2E_SMALL_HOME")
	if home == "" {
		home = "/var/tmp/virtdev-small"
	}
	projects = filepath.Join(home, "projects")
	var fs, above unix.Statfs_t
	err := unix.Statfs(projects, &fs)
	if err == nil {
		err = unix.Statfs(home, &above)
	}
	switch {
	case err == nil && fs.Fsid == above.Fsid:
		err = errors.New("it is no file system of its own")
	case err == nil:
		err = unix.Access(projects, unix.W_OK)
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no small file system at %s (%v), and CI is set: .ci/run mounts one", projects, err)
		}
		t.Skipf("no small file system at %s (%v): as root, mount a tmpfs of 256 MiB there owned by this user (see .ci/run), or name another VIRTDEV_HOME in VIRTDEV_E2E_SMALL_HOME", projects, err)
	}
	return home, projects
}

// holdSmallHome keeps other runs of the suite out of the small VIRTDEV_HOME
// while this one uses it, and empties it first: a run kept for inspection
// must not leave the next one without room.
func holdSmallHome(t *testing.T, home, projects string) {
	t.Helper()
	f, err := os.OpenFile(home+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	emptySmallHome(t, home, projects, "left by an earlier run")
}

// emptySmallHome removes everything in the small VIRTDEV_HOME but the
// mount point of its projects; why says whose it was.
func emptySmallHome(t *testing.T, home, projects, why string) {
	t.Helper()
	for _, dir := range []string{home, projects} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if path := filepath.Join(dir, e.Name()); path != projects {
				t.Logf("removing %s, %s", path, why)
				if err := os.RemoveAll(path); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestFullDisk fills the file system under a running project: QEMU pauses
// the machine, and wait, ssh, stop and resume say so within seconds, naming
// the file system and its room; once space is freed the machine goes on,
// and stops cleanly.
func TestFullDisk(t *testing.T) {
	home, small := smallHome(t)
	holdSmallHome(t, home, small)
	s := newSuiteHome(t, func(string) string { return home })
	t.Cleanup(func() {
		if !t.Failed() {
			emptySmallHome(t, home, small, "this test's")
		}
	})
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	const p = "e2e-full"
	s.ok(t, time.Minute, "virtdev-create", p)
	s.ok(t, time.Minute, "virtdev-start", p)
	s.ok(t, 6*time.Minute, "virtdev-wait", p)

	// First fill: the machine is paused, and everything says why.
	ballast := fill(t, small)
	writer := s.fillGuest(t, p, "fill1")
	took := s.waitPaused(t, p, full(t, small))
	t.Logf("FIGURE full disk reported by virtdev-wait: %s after the file system filled up", took.Round(100*time.Millisecond))
	for _, c := range []struct {
		program string
		args    []string
		want    []string
	}{
		{"virtdev-ssh", []string{p, "true"}, []string{"no space left on " + small, " free of ", "virtdev-resume " + p}},
		{"virtdev-stop", []string{p}, []string{"no space left on " + small, "A clean poweroff needs space first", "du -xh -d 2 " + small, "virtdev-stop --force " + p}},
		{"virtdev-resume", []string{p}, []string{"not continued", "no space left on " + small}},
	} {
		begin := time.Now()
		r := s.run(t, time.Minute, c.program, c.args...)
		if r.code != paused || r.stdout != "" {
			t.Errorf("%s on a machine paused by a full disk: exit %d, stdout %q; want %d and nothing:\n%s", c.program, r.code, r.stdout, paused, r.stderr)
		}
		for _, want := range c.want {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s on a paused machine does not say %q:\n%s", c.program, want, r.stderr)
			}
		}
		if d := time.Since(begin); d > 15*time.Second {
			t.Errorf("%s took %s on a paused machine, want seconds", c.program, d)
		}
	}
	// status and list say it is paused, and why.
	begin := time.Now()
	r := s.run(t, time.Minute, "virtdev-status", p)
	if r.code != 0 || r.stdout != "paused\n" || !strings.Contains(r.stderr, "io-error") || !strings.Contains(r.stderr, "no space left on "+small) {
		t.Errorf("virtdev-status of a machine paused by a full disk: exit %d, stdout %q; want 0, paused, and why:\n%s", r.code, r.stdout, r.stderr)
	}
	r = s.run(t, time.Minute, "virtdev-list")
	if r.code != 0 || !regexp.MustCompile(`(?m)^`+p+` +\d+ +paused `).MatchString(r.stdout) || !strings.Contains(r.stderr, "no space left on "+small) {
		t.Errorf("virtdev-list with a machine paused by a full disk: exit %d; want it paused, and why:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(begin); d > 15*time.Second {
		t.Errorf("status and list took %s on a paused machine, want seconds", d)
	}
	if _, err := os.Stat(s.path(t, p, "port")); err != nil {
		t.Fatalf("the machine did not survive the refusals: %v", err)
	}

	// Space is freed: the machine goes on where it stopped, and the write
	// that filled the disk completes.
	ballast.free(t)
	r = s.run(t, time.Minute, "virtdev-resume", p)
	if r.code != 0 || !strings.Contains(r.stderr, "runs again (it was paused: io-error: no space left on "+small) {
		t.Fatalf("virtdev-resume with room again: exit %d, want 0 saying it runs again:\n%s", r.code, r.stderr)
	}
	if err := writer.wait(2 * time.Minute); err != nil {
		t.Fatalf("the guest's write did not complete after the resume: %v", err)
	}

	// Second fill: with space freed, virtdev-stop itself goes on with the
	// machine, and its guest powers off cleanly.
	ballast = fill(t, small)
	writer = s.fillGuest(t, p, "fill2")
	s.waitPaused(t, p, full(t, small))
	ballast.free(t)
	r = s.run(t, 3*time.Minute, "virtdev-stop", p)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "clean" || !strings.Contains(r.stderr, "continued "+p) {
		t.Fatalf("virtdev-stop of a machine paused on a disk with room again: exit %d, stdout %q; want 0, clean, after continuing it:\n%s", r.code, r.stdout, r.stderr)
	}
	writer.wait(time.Minute) // ssh ends with the guest, however
}

// full watches a file system from now on, and tells when it was first
// seen full (the zero time while it has not been).
func full(t *testing.T, dir string) func() time.Time {
	t.Helper()
	var (
		mu   sync.Mutex
		when time.Time
	)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			var st unix.Statfs_t
			if unix.Statfs(dir, &st) == nil && int64(st.Bavail)*int64(st.Bsize) < 1<<20 {
				mu.Lock()
				when = time.Now()
				mu.Unlock()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return when
	}
}

// ballast takes the room of a file system but for a little.
type ballast struct{ path string }

// leftRoom is what a ballast leaves free: more than the guest's logins
// write, far less than fillGuest writes.
const leftRoom = 32 << 20

func fill(t *testing.T, dir string) ballast {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	size := int64(st.Bavail)*int64(st.Bsize) - leftRoom
	if size <= 0 {
		t.Fatalf("%s has only %d bytes free", dir, st.Bavail*uint64(st.Bsize))
	}
	b := ballast{filepath.Join(dir, "ballast")}
	f, err := os.Create(b.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		t.Fatalf("cannot fill %s: %v", dir, err)
	}
	t.Cleanup(func() { os.Remove(b.path) })
	return b
}

func (b ballast) free(t *testing.T) {
	t.Helper()
	if err := os.Remove(b.path); err != nil {
		t.Fatal(err)
	}
}

// background is a program left running while the test goes on.
type background struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

func (s *suite) background(t *testing.T, program string, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, program), args...)
	cmd.Env = s.env
	b := &background{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout = io.Discard
	cmd.Stderr = b.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { b.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

// wait waits for the program to end, and returns why it failed, if it did.
func (b *background) wait(timeout time.Duration) error {
	select {
	case err := <-b.done:
		b.done <- err
		if err != nil {
			return errors.New(err.Error() + ": " + b.stderr.String())
		}
		return nil
	case <-time.After(timeout):
		return errors.New("still running after " + timeout.String())
	}
}

// fillGuest starts writing far more than leftRoom to a new file on the
// project's home disk, synchronously. A new file, so that the guest's file
// system takes blocks it never used, which the disk's delta must grow for.
func (s *suite) fillGuest(t *testing.T, project, file string) *background {
	t.Helper()
	return s.background(t, "virtdev-ssh", project, "--",
		"dd if=/dev/zero of=/home/dev/"+file+" bs=1M count=64 oflag=direct status=none")
}

// waitPaused runs virtdev-wait until it reports the machine paused for
// lack of space, which must happen within 15 seconds of the file system
// filling up (full says when), and returns how long after that it did.
func (s *suite) waitPaused(t *testing.T, project string, full func() time.Time) time.Duration {
	t.Helper()
	began := time.Now()
	for {
		r := s.run(t, time.Minute, "virtdev-wait", project)
		switch {
		case r.code == paused:
			if !strings.Contains(r.stderr, "io-error: no space left on ") || !strings.Contains(r.stderr, " free of ") {
				t.Errorf("virtdev-wait on a machine paused by a full disk does not name the file system and its room:\n%s", r.stderr)
			}
			filled := full()
			if filled.IsZero() {
				t.Fatalf("virtdev-wait reported a pause while the file system was not full:\n%s", r.stderr)
			}
			took := time.Since(filled)
			if took > 15*time.Second {
				t.Errorf("virtdev-wait reported the pause %s after the file system filled up, want within 15s", took)
			}
			return took
		case r.code != 0:
			t.Fatalf("virtdev-wait while the guest fills its disk: exit %d:\n%s", r.code, r.stderr)
		case time.Since(began) > 2*time.Minute:
			t.Fatal("the machine was not paused two minutes after its guest began to fill the disk")
		}
		time.Sleep(500 * time.Millisecond)
	}
}
