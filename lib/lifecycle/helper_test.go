package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"virtdev/lib/layout"
	"virtdev/lib/lifecycle"
	"virtdev/lib/unit"
)

// The test binary doubles as a program that runs one operation, so that a
// test can let it be killed at a step (lifecycle.CrashVariable) and look at
// what it left.
const (
	helperOp   = "LIFECYCLE_TEST_OP"   // move, detach, detach-in-place, destroy
	helperRoot = "LIFECYCLE_TEST_ROOT" // the root of the test's layout
)

func TestMain(m *testing.M) {
	if op := os.Getenv(helperOp); op != "" {
		l := testLayout(os.Getenv(helperRoot))
		ctx, units := context.Background(), &fakeUnits{}
		report := func(string, ...any) {}
		var err error
		switch op {
		case "move":
			_, err = lifecycle.Move(ctx, l, units, "a", "b", report)
		case "destroy":
			err = lifecycle.Destroy(ctx, l, units, "a", report)
		case "detach":
			err = lifecycle.Detach(ctx, l, "a", lifecycle.DetachOptions{}, report)
		case "detach-in-place":
			err = lifecycle.Detach(ctx, l, "a", lifecycle.DetachOptions{InPlace: true}, report)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runKilled runs op in another process that kills itself after step, and
// fails unless it did.
func runKilled(t *testing.T, root, op, step string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperOp+"="+op, helperRoot+"="+root, lifecycle.CrashVariable+"="+step)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%s was to be killed after %s, but ended with %v:\n%s", op, step, err, out)
	}
}

func testLayout(root string) layout.Layout {
	return layout.Layout{
		Home:      filepath.Join(root, "data"),
		Cache:     filepath.Join(root, "cache"),
		ConfigDir: filepath.Join(root, "config", "virtdev"),
		SSHKey:    filepath.Join(root, "data", "ssh", "id"),
	}
}

// fakeUnits is a user manager in which the named units run.
type fakeUnits struct {
	running  map[string]bool
	commands map[string][][]string
	reset    []string
	broken   bool
}

func (f *fakeUnits) Status(_ context.Context, name string) (unit.Status, error) {
	if f.broken {
		return unit.Status{}, errors.New("the bus is gone")
	}
	if f.running[name] {
		return unit.Status{LoadState: "loaded", ActiveState: "active"}, nil
	}
	return unit.Status{LoadState: "not-found", ActiveState: "inactive"}, nil
}

func (f *fakeUnits) ResetFailed(_ context.Context, name string) error {
	f.reset = append(f.reset, name)
	return nil
}

func (f *fakeUnits) Running(_ context.Context, pattern string) ([]string, error) {
	var names []string
	for name, on := range f.running {
		if ok, _ := filepath.Match(pattern, name); ok && on {
			names = append(names, name)
		}
	}
	return names, nil
}

func (f *fakeUnits) Commands(_ context.Context, name string) ([][]string, error) {
	return f.commands[name], nil
}

// tree is every file and directory under some roots: contents, modes and
// symbolic link targets, for byte-for-byte comparisons.
type tree map[string]string

func snapshot(t *testing.T, roots ...string) tree {
	t.Helper()
	s := tree{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && path == root {
				return filepath.SkipDir
			}
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			entry := info.Mode().String()
			if info.Mode().IsRegular() {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				entry += " " + string(data)
			}
			s[path] = entry
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// renamed is the tree as it should look with every path under from moved
// under to.
func (s tree) renamed(from, to string) tree {
	out := tree{}
	for path, entry := range s {
		if path == from || strings.HasPrefix(path, from+"/") {
			path = to + strings.TrimPrefix(path, from)
		}
		out[path] = entry
	}
	return out
}

func (s tree) diff(want tree) string {
	var d []string
	for path, entry := range want {
		got, ok := s[path]
		switch {
		case !ok:
			d = append(d, "missing "+path)
		case got != entry:
			d = append(d, "changed "+path)
		}
	}
	for path := range s {
		if _, ok := want[path]; !ok {
			d = append(d, "unexpected "+path)
		}
	}
	return strings.Join(d, "\n")
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// messages collects what a Reporter hears.
type messages []string

func (m *messages) report(format string, args ...any) {
	*m = append(*m, fmt.Sprintf(format, args...))
}

func (m messages) String() string { return strings.Join(m, "\n") }
