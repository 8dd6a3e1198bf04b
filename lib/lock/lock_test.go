package lock_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gofrs/flock"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
)

// holdEnv makes the test binary a lock holder: it takes the lock in the
// VIRTDEV_HOME the variable names, says "held" and keeps the lock until its
// stdin closes.
const holdEnv = "VIRTDEV_LOCK_TEST_HOLD"

func TestMain(m *testing.M) {
	if home := os.Getenv(holdEnv); home != "" {
		if _, err := lock.Acquire(layout.Layout{Home: home}, filepath.Base(os.Args[0])); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("held\n")
		bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holder runs the test binary under the given name as a lock holder in
// another process and returns its PID; the lock goes when the test ends.
func holder(t *testing.T, l layout.Layout, name string) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link)
	cmd.Env = append(os.Environ(), holdEnv+"="+l.Home)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "held\n" {
		t.Fatalf("holder %s did not take the lock (said %q)", name, line)
	}
	return cmd.Process.Pid
}

func newLayout(t *testing.T) layout.Layout {
	// A directory that does not exist yet: Acquire creates it.
	return layout.Layout{Home: filepath.Join(t.TempDir(), "virtdev")}
}

func lockedError(t *testing.T, err error) string {
	t.Helper()
	if exitcode.For(err) != exitcode.Locked.N {
		t.Fatalf("Acquire = %v (code %d), want exit 75", err, exitcode.For(err))
	}
	return err.Error()
}

func TestAcquireRecordsPID(t *testing.T) {
	l := newLayout(t)
	held, err := lock.Acquire(l, "virtdev-start")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	data, err := os.ReadFile(l.Lock())
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(os.Getpid()) + "\n"; string(data) != want {
		t.Errorf("lock file holds %q, want %q", data, want)
	}
	info, err := os.Stat(l.Lock())
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("lock file mode %v, want 0600", perm)
	}
}

// flock(2) belongs to an open file description, so two Acquire calls in one
// process contend just like two programs.
func TestContention(t *testing.T) {
	l := newLayout(t)
	first, err := lock.Acquire(l, "virtdev-start")
	if err != nil {
		t.Fatal(err)
	}
	_, err = lock.Acquire(l, "virtdev-stop")
	msg := lockedError(t, err)
	pid := strconv.Itoa(os.Getpid())
	for _, want := range []string{"another virtdev program is running", "PID " + pid, "Lock file: " + l.Lock(), os.Args[0]} {
		if !strings.Contains(msg, want) {
			t.Errorf("contention message lacks %q:\n%s", want, msg)
		}
	}
	// The loser must not have wiped the holder's PID.
	if data, _ := os.ReadFile(l.Lock()); string(data) != pid+"\n" {
		t.Errorf("lock file holds %q after contention, want the holder's PID", data)
	}

	first.Release()
	second, err := lock.Acquire(l, "virtdev-stop")
	if err != nil {
		t.Fatalf("Acquire after Release = %v", err)
	}
	second.Release()
	var none *lock.Lock
	none.Release() // a nil lock is released without fuss
}

func TestContentionWithMaintain(t *testing.T) {
	l := newLayout(t)
	pid := strconv.Itoa(holder(t, l, "virtdev-maintain"))
	if data, _ := os.ReadFile(l.Lock()); string(data) != pid+"\n" {
		t.Errorf("lock file holds %q, want the holder's PID %s", data, pid)
	}

	_, err := lock.Acquire(l, "virtdev-start")
	msg := lockedError(t, err)
	for _, want := range []string{"base maintenance is in progress", "PID " + pid, l.Lock(), "virtdev-maintenance.service"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message to another program lacks %q:\n%s", want, msg)
		}
	}

	_, err = lock.Acquire(l, "virtdev-maintain")
	msg = lockedError(t, err)
	for _, want := range []string{"another virtdev-maintain is already running", "PID " + pid, l.Lock()} {
		if !strings.Contains(msg, want) {
			t.Errorf("message to a second virtdev-maintain lacks %q:\n%s", want, msg)
		}
	}
}

func TestContentionWithOtherProgram(t *testing.T) {
	l := newLayout(t)
	pid := strconv.Itoa(holder(t, l, "virtdev-backup"))
	for _, program := range []string{"virtdev-start", "virtdev-maintain"} {
		_, err := lock.Acquire(l, program)
		msg := lockedError(t, err)
		for _, want := range []string{"another virtdev program is running", "PID " + pid + ": ", "virtdev-backup", l.Lock()} {
			if !strings.Contains(msg, want) {
				t.Errorf("message to %s lacks %q:\n%s", program, want, msg)
			}
		}
		if strings.Contains(msg, "maintenance") {
			t.Errorf("message to %s speaks of maintenance:\n%s", program, msg)
		}
	}
}

// A holder that did not (yet) record its PID is reported as unknown rather
// than with whatever the file happens to hold.
func TestContentionUnknownHolder(t *testing.T) {
	l := newLayout(t)
	if err := os.MkdirAll(l.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.Lock(), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	raw := flock.New(l.Lock())
	if ok, err := raw.TryLock(); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	defer raw.Unlock()
	_, err := lock.Acquire(l, "virtdev-start")
	msg := lockedError(t, err)
	if !strings.Contains(msg, "PID unknown") || strings.Contains(msg, "garbage") {
		t.Errorf("message should call the holder unknown:\n%s", msg)
	}
}

// A PID left by a holder that has gone means nothing: only the flock counts.
func TestStalePIDIsIgnored(t *testing.T) {
	l := newLayout(t)
	if err := os.MkdirAll(l.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.Lock(), []byte("999999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := lock.Acquire(l, "virtdev-start")
	if err != nil {
		t.Fatalf("Acquire over a stale PID = %v", err)
	}
	defer held.Release()
	if data, _ := os.ReadFile(l.Lock()); string(data) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q, want this process's PID", data)
	}
}

func TestUncreatableHome(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := lock.Acquire(layout.Layout{Home: filepath.Join(file, "virtdev")}, "virtdev-start")
	if exitcode.For(err) != exitcode.Failure.N || !strings.Contains(err.Error(), file) {
		t.Errorf("Acquire under a file = %v, want exit 1 naming the path", err)
	}
}
