//go:build e2e

// Package e2e boots real guests in real QEMU under the caller's systemd user
// manager, driven only through the virtdev programs, as a user would.
//
// Run it with `make e2e` (or `make test-all`) as an unprivileged user who has
// a user bus. VIRTDEV_BIN names the directory of the built programs;
// VIRTDEV_E2E_CACHE keeps bootstrapped bases between runs.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// suite is one isolated virtdev installation: its own VIRTDEV_HOME, key
// and configuration directory, so a run never touches the user's own.
type suite struct {
	bin  string
	root string
	home string // VIRTDEV_HOME, inside root
	env  []string
}

type result struct {
	stdout, stderr string
	code           int
}

func newSuite(t testing.TB) *suite {
	t.Helper()
	return newSuiteHome(t, func(root string) string { return filepath.Join(root, "data") })
}

// newSuiteHome is newSuite with VIRTDEV_HOME where home says, in the
// suite's directory.
func newSuiteHome(t testing.TB, home func(root string) string) *suite {
	t.Helper()
	return newSuiteWith(t, home, true)
}

// newSuiteWith makes a suite; owned ties its end (its machines stopped,
// its directory removed unless the test failed) to the end of t.
func newSuiteWith(t testing.TB, home func(root string) string, owned bool) *suite {
	t.Helper()
	bin := os.Getenv("VIRTDEV_BIN")
	if bin == "" {
		t.Fatal("VIRTDEV_BIN is not set: run the suite with `make e2e`, which builds the programs into ./bin")
	}
	if os.Geteuid() == 0 {
		t.Fatal("the e2e suite runs as an unprivileged user, as virtdev's users do: root would hide permission bugs (see .ci/run)")
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" && os.Getenv("XDG_RUNTIME_DIR") == "" {
		t.Fatal("no user bus: the suite needs a systemd user manager (see .ci/user-session)")
	}
	// Not t.TempDir: after a failure the disks and the journal are worth
	// keeping for a look, and the directory name is logged for that.
	root, err := os.MkdirTemp(os.Getenv("VIRTDEV_E2E_TMP"), "virtdev-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("suite directory: %s", root)
	s := &suite{bin: bin, root: root, home: home(root)}
	s.env = append(filteredEnviron(),
		"VIRTDEV_HOME="+s.home,
		"VIRTDEV_CACHE="+filepath.Join(root, "cache"),
		"XDG_CONFIG_HOME="+filepath.Join(root, "config"),
		"VIRTDEV_SSH_KEY="+filepath.Join(s.home, "ssh", "id"),
		// Guests run under emulation, on any host: a test that needs
		// KVM asks for it.
		"VIRTDEV_ACCEL=tcg",
		"VIRTDEV_VM_CPUS=2",
		"VIRTDEV_VM_MEMORY=1024",
		"VIRTDEV_WAIT_TIMEOUT=300",
		"VIRTDEV_STOP_TIMEOUT=60",
		"NO_COLOR=1",
	)
	s.env = append(s.env, baseSettings...)
	if !owned {
		return s
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept for inspection: %s", root)
			return
		}
		os.RemoveAll(root)
	})
	// Registered last, so it runs first: a test that failed halfway must
	// not leave its VMs running under the user's manager.
	t.Cleanup(func() { s.stopAll(t) })
	return s
}

// baseSettings pin everything the host would otherwise lend a new base, so
// that a cached base is the one this host's settings would build. They are
// not the defaults, so that TestGuest sees them arrive, and they are spelled
// as hosts spell them: the locale as glibc prints it, the keymap as a
// Debian host's X11 layout. The resolver keeps its default, the machine's
// own network, which is no host's to lend and which the zone tests probe.
var baseSettings = []string{
	"VIRTDEV_TIMEZONE=Asia/Tokyo",
	"VIRTDEV_LOCALE=en_GB.utf8",
	"VIRTDEV_KEYMAP=gb",
}

// stopAll stops every project of the suite that still runs.
func (s *suite) stopAll(t testing.TB) {
	entries, _ := os.ReadDir(filepath.Join(s.home, "projects"))
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(s.home, "projects", e.Name(), "port")); err == nil {
			s.with("VIRTDEV_STOP_TIMEOUT=10").run(t, 2*time.Minute, "virtdev-stop", e.Name())
		}
	}
}

// filteredEnviron drops the caller's virtdev settings so the suite's own
// apply.
func filteredEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "VIRTDEV_") || strings.HasPrefix(name, "XDG_CONFIG") ||
			name == "OVMF_CODE" || name == "OVMF_VARS" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// with returns a copy of the suite whose programs see extra variables.
func (s *suite) with(vars ...string) *suite {
	c := *s
	c.env = append(append([]string{}, s.env...), vars...)
	return &c
}

// run runs a virtdev program and returns what it printed and its status.
func (s *suite) run(t testing.TB, timeout time.Duration, program string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, program), args...)
	cmd.Env = s.env
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, testLog{t, program})
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %s did not finish within %s", program, strings.Join(args, " "), timeout)
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", program, err)
	}
	t.Logf("%s %s → exit %d in %s", program, strings.Join(args, " "), r.code, time.Since(start).Round(time.Millisecond))
	return r
}

// ok runs a program that must succeed and returns its stdout.
func (s *suite) ok(t testing.TB, timeout time.Duration, program string, args ...string) string {
	t.Helper()
	r := s.run(t, timeout, program, args...)
	if r.code != 0 {
		t.Fatalf("%s %s exited %d:\n%s", program, strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// refuses runs a program that must fail with code, print nothing on stdout,
// and say something matching want on stderr.
func (s *suite) refuses(t testing.TB, code int, want string, program string, args ...string) {
	t.Helper()
	r := s.run(t, 2*time.Minute, program, args...)
	if r.code != code {
		t.Fatalf("%s %s exited %d, want %d:\n%s", program, strings.Join(args, " "), r.code, code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("%s %s printed on stdout while refusing: %q", program, strings.Join(args, " "), r.stdout)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("%s %s: stderr does not mention %q:\n%s", program, strings.Join(args, " "), want, r.stderr)
	}
}

// path asks virtdev-path where a resource is.
func (s *suite) path(t testing.TB, project string, resource ...string) string {
	t.Helper()
	return strings.TrimSpace(s.ok(t, time.Minute, "virtdev-path", append([]string{project}, resource...)...))
}

type testLog struct {
	t       testing.TB
	program string
}

func (l testLog) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.t.Logf("  %s: %s", l.program, line)
	}
	return len(p), nil
}

// installation provides a fresh installation/ and the key it trusts: from
// the cache when one was bootstrapped by the same virtdev-bootstrap binary,
// otherwise by running virtdev-key and virtdev-bootstrap and caching the
// result. The cache key is the binary itself, so any change to how bases
// are built (lib/guest, its embedded files, the package list) rebuilds.
func (s *suite) installation(t testing.TB) {
	t.Helper()
	cacheRoot := os.Getenv("VIRTDEV_E2E_CACHE")
	if cacheRoot == "" {
		home, _ := os.UserHomeDir()
		cacheRoot = filepath.Join(home, ".cache", "virtdev-e2e")
	}
	key, err := fileHash(filepath.Join(s.bin, "virtdev-bootstrap"), strings.Join(baseSettings, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	entry := filepath.Join(cacheRoot, key)
	data := s.home
	cached := []string{"system.qcow2", "home.qcow2", "nvram", "id", "id.pub"}

	if _, err := os.Stat(filepath.Join(entry, "complete")); err == nil {
		t.Logf("using the base cached in %s", entry)
		now := time.Now()
		os.Chtimes(entry, now, now) // recently used: kept by pruneCache
		for _, name := range cached {
			if err := copyFile(filepath.Join(entry, name), cachedPlace(data, name), cachedMode(name)); err != nil {
				t.Fatal(err)
			}
		}
		return
	}

	s.ok(t, time.Minute, "virtdev-key")
	start := time.Now()
	s.ok(t, 30*time.Minute, "virtdev-bootstrap")
	t.Logf("FIGURE bootstrap: %s", time.Since(start).Round(time.Second))

	// Written beside its final name and renamed, so a run killed mid-copy
	// never leaves a cache entry that looks complete.
	pruneCache(cacheRoot, keptEntries-1)
	scratch := entry + ".partial"
	for _, name := range cached {
		if err := copyFile(cachedPlace(data, name), filepath.Join(scratch, name), cachedMode(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(scratch, "complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(scratch, entry); err != nil {
		t.Fatal(err)
	}
}

// cachedPlace is where a cached file belongs in a suite's VIRTDEV_HOME.
func cachedPlace(data, name string) string {
	if strings.HasPrefix(name, "id") {
		return filepath.Join(data, "ssh", name)
	}
	return filepath.Join(data, "installation", name)
}

// cachedMode keeps the private key private, in the cache as in use.
func cachedMode(name string) os.FileMode {
	if name == "id" {
		return 0o600
	}
	return 0o644
}

// keptEntries bounds the cache: a base is about 1.5 GiB, and a few
// branches built on one machine each have their own.
const keptEntries = 3

// pruneCache keeps the keep most recently used of the suite's own entries
// (hex names) and removes the others, and nothing else that may share the
// directory. An unfinished entry is removed only when it is old: another
// run may be writing it.
func pruneCache(root string, keep int) {
	type entry struct {
		path string
		used time.Time
	}
	var complete []entry
	dirs, _ := os.ReadDir(root)
	for _, d := range dirs {
		name, partial := strings.CutSuffix(d.Name(), ".partial")
		if _, err := hex.DecodeString(name); err != nil || len(name) != 16 {
			continue
		}
		info, err := d.Info()
		if err != nil {
			continue
		}
		path := filepath.Join(root, d.Name())
		switch {
		case partial && time.Since(info.ModTime()) > 2*time.Hour:
			os.RemoveAll(path)
		case !partial:
			complete = append(complete, entry{path, info.ModTime()})
		}
	}
	slices.SortFunc(complete, func(a, b entry) int { return b.used.Compare(a.used) })
	for i := keep; i < len(complete); i++ {
		os.RemoveAll(complete[i].path)
	}
}

// fileHash fingerprints a file, and any extra text that shapes what it
// stands for.
func fileHash(path string, extra ...string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	for _, x := range extra {
		io.WriteString(h, x)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// checksums fingerprints every file of a directory.
func checksums(t testing.TB, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		sum, err := fileHash(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sums[e.Name()] = sum
	}
	return sums
}

func sameSums(a, b map[string]string) error {
	if len(a) != len(b) {
		return fmt.Errorf("file sets differ: %v vs %v", a, b)
	}
	for name, sum := range a {
		if b[name] != sum {
			return fmt.Errorf("%s changed", name)
		}
	}
	return nil
}

// The shared machine: one suite with a sealed base and one booted project
// that every test needing only "a running machine" uses, in turn. A boot
// is the suite's most expensive step (20 to 60 seconds under TCG) and the
// CI budget allows few, so a test boots its own machine only when the boot
// itself, or something no other test may see (a stop, a destroy, another
// base), is what it checks. A test using the shared machine leaves it
// running and as it found it: it works in a directory of its own under
// /home/dev and removes what it configured.
var shared struct {
	sync.Mutex
	s       *suite
	project string
	failed  bool // set up once and failed: later tests fail at once
}

// sharedProject is the shared machine's project name.
const sharedProject = "e2e-shared"

// sharedMachine returns the shared suite and its running project, booting
// it on first use.
func sharedMachine(t *testing.T) (*suite, string) {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if shared.failed {
		t.Fatal("the shared machine could not be set up (see the first test that asked for it)")
	}
	if shared.s != nil {
		if _, err := os.Stat(shared.s.path(t, sharedProject, "port")); err != nil {
			t.Fatalf("an earlier test left the shared machine stopped: %v", err)
		}
		return shared.s, sharedProject
	}
	shared.failed = true
	s := newSuiteLasting(t)
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	s.ok(t, time.Minute, "virtdev-create", sharedProject)
	booted := time.Now()
	s.ok(t, time.Minute, "virtdev-start", sharedProject)
	s.ok(t, 6*time.Minute, "virtdev-wait", sharedProject)
	t.Logf("FIGURE boot to SSH (shared machine): %s", time.Since(booted).Round(100*time.Millisecond))
	shared.s, shared.project, shared.failed = s, sharedProject, false
	return s, sharedProject
}

// lasting are the suites that outlive the test that made them; TestMain
// stops their machines and removes them at the end of the run.
var lasting []*suite

// newSuiteLasting is newSuite for a suite that tests share.
func newSuiteLasting(t testing.TB) *suite {
	t.Helper()
	s := newSuiteWith(t, func(root string) string { return filepath.Join(root, "data") }, false)
	lasting = append(lasting, s)
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range lasting {
		s.stopAll(quietTB{})
		if code == 0 {
			os.RemoveAll(s.root)
		} else {
			fmt.Fprintf(os.Stderr, "kept for inspection: %s\n", s.root)
		}
	}
	os.Exit(code)
}

// quietTB stands in for a test where none runs any more (TestMain's
// cleanup): it logs to stderr, and a failure is only said.
type quietTB struct{ testing.TB }

func (quietTB) Helper()                           {}
func (quietTB) Logf(format string, args ...any)   { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (quietTB) Fatalf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (quietTB) Errorf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// getenv looks a variable up as the suite's programs see it.
func (s *suite) getenv(name string) string {
	for i := len(s.env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(s.env[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}
