package lock_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
)

// holdEnv makes the test binary a lock holder: it takes the lock holdWhat
// names in the VIRTDEV_HOME holdEnv names, says "held" and keeps the lock
// until its stdin closes.
const (
	holdEnv  = "VIRTDEV_LOCK_TEST_HOLD"
	holdWhat = "VIRTDEV_LOCK_TEST_WHAT"
)

func TestMain(m *testing.M) {
	if home := os.Getenv(holdEnv); home != "" {
		l := layout.Layout{Home: home}
		program := filepath.Base(os.Args[0])
		var err error
		switch what := os.Getenv(holdWhat); what {
		case "shared":
			_, err = lock.Base(l, program, lock.Shared)
		case "exclusive":
			_, err = lock.Base(l, program, lock.Exclusive)
		case "up":
			_, err = lock.HoldUp(l.Project("p"))
		default:
			_, err = lock.Project(l, what, program)
		}
		if err != nil {
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
func holder(t *testing.T, l layout.Layout, name, what string) int {
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
	cmd.Env = append(os.Environ(), holdEnv+"="+l.Home, holdWhat+"="+what)
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
	// A directory that does not exist yet: the lock creates it.
	return layout.Layout{Home: filepath.Join(t.TempDir(), "virtdev")}
}

func lockedError(t *testing.T, err error) string {
	t.Helper()
	if exitcode.For(err) != exitcode.Locked.N {
		t.Fatalf("lock = %v (code %d), want exit 75", err, exitcode.For(err))
	}
	return err.Error()
}

func contains(t *testing.T, msg string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestExclusiveRecordsHolder(t *testing.T) {
	l := newLayout(t)
	held, err := lock.Base(l, "virtdev-seal", lock.Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	data, err := os.ReadFile(l.Lock())
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(os.Getpid()) + " " + filepath.Base(os.Args[0]) + "\n"; string(data) != want {
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

// Programs that rely on the base run side by side; one that changes it
// waits for none of them and is refused, naming them all.
func TestSharedAndExclusive(t *testing.T) {
	l := newLayout(t)
	a := holder(t, l, "virtdev-create", "shared")
	b := holder(t, l, "virtdev-start", "shared")
	shared, err := lock.Base(l, "virtdev-create", lock.Shared)
	if err != nil {
		t.Fatalf("a third shared holder = %v", err)
	}
	shared.Release()
	_, err = lock.Base(l, "virtdev-seal", lock.Exclusive)
	contains(t, lockedError(t, err), "virtdev-seal needs the base to itself", "virtdev-create", "PID "+strconv.Itoa(a),
		"virtdev-start", "PID "+strconv.Itoa(b), "Lock file: "+l.Lock())
}

// The kernel's table names the holder, not what the file says: a holder
// that has not written its PID yet, or garbage, cannot mislead.
func TestHolderFromKernel(t *testing.T) {
	l := newLayout(t)
	pid := holder(t, l, "virtdev-seal", "exclusive")
	if err := os.WriteFile(l.Lock(), []byte("999999 virtdev-fake\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := lock.Base(l, "virtdev-create", lock.Shared)
	msg := lockedError(t, err)
	contains(t, msg, "the base is being changed by virtdev-seal", "PID "+strconv.Itoa(pid))
	if strings.Contains(msg, "999999") || strings.Contains(msg, "fake") {
		t.Errorf("the message trusts the file's content:\n%s", msg)
	}
}

func TestContentionWithMaintain(t *testing.T) {
	l := newLayout(t)
	pid := strconv.Itoa(holder(t, l, "virtdev-maintain", "exclusive"))
	if data, _ := os.ReadFile(l.Lock()); string(data) != pid+" virtdev-maintain\n" {
		t.Errorf("lock file holds %q, want the holder's PID %s and name", data, pid)
	}
	_, err := lock.Base(l, "virtdev-start", lock.Shared)
	contains(t, lockedError(t, err), "base maintenance is in progress", "PID "+pid, l.Lock(), "virtdev-maintenance.service")
	_, err = lock.Base(l, "virtdev-maintain", lock.Exclusive)
	contains(t, lockedError(t, err), "another virtdev-maintain is already running", "PID "+pid, l.Lock())
}

// Projects are locked one by one: different projects never block each
// other, the same one does, and a base lock is independent of both.
func TestProjects(t *testing.T) {
	l := newLayout(t)
	pid := holder(t, l, "virtdev-stop", "p")
	other, err := lock.Project(l, "q", "virtdev-start")
	if err != nil {
		t.Fatalf("locking another project = %v", err)
	}
	defer other.Release()
	base, err := lock.Base(l, "virtdev-seal", lock.Exclusive)
	if err != nil {
		t.Fatalf("locking the base = %v", err)
	}
	base.Release()
	_, err = lock.Project(l, "p", "virtdev-start")
	contains(t, lockedError(t, err), `project "p" is busy`, "virtdev-stop", "PID "+strconv.Itoa(pid), l.ProjectLock("p"))
	if _, err := os.Stat(l.ProjectLock("p")); err != nil {
		t.Errorf("project lock: %v", err)
	}
}

// flock(2) belongs to an open file description, so two locks in one
// process contend just like two programs, and Release frees at once.
func TestRelease(t *testing.T) {
	l := newLayout(t)
	first, err := lock.Project(l, "p", "virtdev-start")
	if err != nil {
		t.Fatal(err)
	}
	_, err = lock.Project(l, "p", "virtdev-stop")
	lockedError(t, err)
	first.Release()
	first.Release() // twice is harmless
	second, err := lock.Project(l, "p", "virtdev-stop")
	if err != nil {
		t.Fatalf("after Release = %v", err)
	}
	second.Release()
	var none *lock.Lock
	none.Release() // a nil lock is released without fuss
}

// A PID left by a holder that has gone means nothing: only the flock counts.
func TestStalePIDIsIgnored(t *testing.T) {
	l := newLayout(t)
	if err := os.MkdirAll(l.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.Lock(), []byte("999999999 long-gone and a much longer tail than the record\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := lock.Base(l, "virtdev-seal", lock.Exclusive)
	if err != nil {
		t.Fatalf("locking over a stale PID = %v", err)
	}
	defer held.Release()
	if data, _ := os.ReadFile(l.Lock()); !strings.HasPrefix(string(data), strconv.Itoa(os.Getpid())+" ") || strings.Contains(string(data), "tail") {
		t.Errorf("lock file holds %q, want only this process's record", data)
	}
}

// A lock file that is a symbolic link is refused, and what it points to is
// left alone.
func TestSymlinkRefused(t *testing.T) {
	l := newLayout(t)
	if err := os.MkdirAll(l.Home, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, l.Lock()); err != nil {
		t.Fatal(err)
	}
	_, err := lock.Base(l, "virtdev-seal", lock.Exclusive)
	if exitcode.For(err) != exitcode.HomeUnusable.N || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("lock through a link = %v, want exit 86 naming the link", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep me\n" {
		t.Errorf("the link's target was written: %q", data)
	}
}

func TestUnusableHome(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dirLock := newLayout(t)
	if err := os.MkdirAll(dirLock.Lock(), 0o700); err != nil {
		t.Fatal(err)
	}
	cases := map[string]layout.Layout{
		"VIRTDEV_HOME is a file":       {Home: file},
		"VIRTDEV_HOME under a file":    {Home: filepath.Join(file, "virtdev")},
		"the lock file is a directory": dirLock,
	}
	if os.Geteuid() != 0 {
		closed := newLayout(t)
		if err := os.MkdirAll(closed.Home, 0o500); err != nil {
			t.Fatal(err)
		}
		cases["VIRTDEV_HOME is not writable"] = closed
	}
	for name, l := range cases {
		_, err := lock.Base(l, "virtdev-seal", lock.Exclusive)
		if exitcode.For(err) != exitcode.HomeUnusable.N || !strings.Contains(err.Error(), l.Home) {
			t.Errorf("%s: %v (code %d), want exit 86 naming %s", name, err, exitcode.For(err), l.Home)
		}
	}
}
