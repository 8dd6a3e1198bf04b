package lifecycle_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/lifecycle"
)

const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKmk9tnNYCbhq3nDDUCdYYTRx8d6D+Sy9hwFqzbDNAcd"

// movable makes project a with everything a move carries: disks, a pinned
// host key, backups with a snapshot, a configuration directory.
func movable(t *testing.T, root string) layout.Layout {
	t.Helper()
	l := testLayout(root)
	m := l.Project("a")
	write(t, m.SystemImage, "system disk")
	write(t, m.HomeImage, "home disk")
	write(t, m.Generation, "1\n")
	write(t, m.KnownHosts, "virtdev-a "+hostKey+"\n")
	write(t, filepath.Join(l.Backups("a"), "2026-01-02", "03-04-05", "project"), "a\n")
	write(t, filepath.Join(l.Backups("a"), "2026-01-02", "03-04-05", "tree", "notes"), "kept")
	write(t, l.ProjectConfig("a").Provision, "make")
	return l
}

// moved is what a finished move of a to b must leave, given the tree
// before: every path renamed, the snapshot re-marked, the host key pinned
// under the new alias only.
func moved(l layout.Layout, before tree) tree {
	want := before.renamed(l.Project("a").Dir, l.Project("b").Dir).
		renamed(l.Backups("a"), l.Backups("b")).
		renamed(l.ProjectConfig("a").Dir, l.ProjectConfig("b").Dir)
	marker := filepath.Join(l.Backups("b"), "2026-01-02", "03-04-05", "project")
	want[marker] = strings.Replace(want[marker], " a\n", " b\n", 1)
	hosts := l.Project("b").KnownHosts
	want[hosts] = strings.Replace(want[hosts], "virtdev-a ", "virtdev-b ", 1)
	return want
}

func roots(l layout.Layout) []string {
	return []string{l.Projects(), l.BackupRoot(), filepath.Dir(l.ProjectConfig("x").Dir)}
}

func TestMove(t *testing.T) {
	l := movable(t, t.TempDir())
	before := snapshot(t, roots(l)...)
	units := &fakeUnits{running: map[string]bool{}}
	r, err := lifecycle.Move(context.Background(), l, units, "a", "b", t.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	if d := snapshot(t, roots(l)...).diff(moved(l, before)); d != "" {
		t.Errorf("after the move:\n%s", d)
	}
	if len(r.Moved) != 3 || len(r.Adopted) != 0 {
		t.Errorf("report %+v, want the configuration, the backups and the directory moved", r)
	}
	if _, err := os.Stat(l.Journals()); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(l.Journals()); len(entries) != 0 {
		t.Errorf("the journal outlived the move: %v", entries)
	}
	if !slices.Contains(units.reset, "virtdev-a.service") {
		t.Errorf("the old unit's state was not cleared: %v", units.reset)
	}
}

// Killed after any step, a move is undone (before the project directory
// was renamed) or finished (after) by the next Recover, to the byte.
func TestMoveInterrupted(t *testing.T) {
	steps := lifecycle.Steps["move"]
	commit := slices.Index(steps, lifecycle.MoveProject)
	for i, step := range steps {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			l := movable(t, root)
			before := snapshot(t, roots(l)...)
			runKilled(t, root, "move", step)
			var said messages
			if err := lifecycle.Recover(context.Background(), l, &fakeUnits{}, []string{"b"}, said.report); err != nil {
				t.Fatal(err)
			}
			want, verb := before, "undid it"
			if i >= commit {
				want, verb = moved(l, before), "finished it"
			}
			if d := snapshot(t, roots(l)...).diff(want); d != "" {
				t.Errorf("after recovering:\n%s", d)
			}
			if !strings.Contains(said.String(), verb) {
				t.Errorf("Recover said %q, want %q", said, verb)
			}
			// Nothing is left to recover.
			if lifecycle.Pending(l, "a") || lifecycle.Pending(l, "b") {
				t.Error("still pending after Recover")
			}
		})
	}
}

func TestMoveRefusals(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		prepare func(l layout.Layout, u *fakeUnits)
		check   func(err error) bool
	}{
		{"the new name is a project", func(l layout.Layout, u *fakeUnits) {
			os.MkdirAll(l.Project("b").Dir, 0o755)
		}, func(err error) bool { var e *lifecycle.TakenError; return errors.As(err, &e) }},
		{"the new name has backups", func(l layout.Layout, u *fakeUnits) {
			os.MkdirAll(l.Backups("b"), 0o755)
		}, func(err error) bool {
			var e *lifecycle.InTheWayError
			return errors.As(err, &e) && e.What == "backups"
		}},
		{"the new name has a configuration", func(l layout.Layout, u *fakeUnits) {
			os.MkdirAll(l.ProjectConfig("b").Dir, 0o755)
		}, func(err error) bool {
			var e *lifecycle.InTheWayError
			return errors.As(err, &e) && e.What == "configuration"
		}},
		{"the machine runs", func(l layout.Layout, u *fakeUnits) {
			u.running["virtdev-a.service"] = true
		}, func(err error) bool { return exitcode.For(err) == exitcode.Running.N }},
		{"a machine of the new name runs", func(l layout.Layout, u *fakeUnits) {
			u.running["virtdev-b.service"] = true
		}, func(err error) bool { return exitcode.For(err) == exitcode.Running.N }},
		{"a port file outlived the machine", func(l layout.Layout, u *fakeUnits) {
			os.WriteFile(l.Project("a").Port, []byte("2222\n"), 0o644)
		}, func(err error) bool { return exitcode.For(err) == exitcode.StalePort.N }},
		{"the user manager cannot be reached", func(l layout.Layout, u *fakeUnits) {
			u.broken = true
		}, func(err error) bool { return exitcode.For(err) == exitcode.NoUserManager.N }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := movable(t, t.TempDir())
			units := &fakeUnits{running: map[string]bool{}}
			tc.prepare(l, units)
			before := snapshot(t, roots(l)...)
			_, err := lifecycle.Move(ctx, l, units, "a", "b", t.Errorf)
			if !tc.check(err) {
				t.Fatalf("Move = %v", err)
			}
			if d := snapshot(t, roots(l)...).diff(before); d != "" {
				t.Errorf("a refused move changed:\n%s", d)
			}
		})
	}
}

// Backups or a configuration only the new name has are the project's
// afterwards, and the report says so.
func TestMoveAdopts(t *testing.T) {
	l := movable(t, t.TempDir())
	os.RemoveAll(l.ProjectConfig("a").Dir)
	write(t, l.ProjectConfig("b").SSHConfig, "Compression yes\n")
	r, err := lifecycle.Move(context.Background(), l, &fakeUnits{}, "a", "b", t.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Adopted, []string{l.ProjectConfig("b").Dir}) {
		t.Errorf("adopted %v", r.Adopted)
	}
}

// A move that fails before the project is renamed is undone at once.
func TestMoveFailureUndone(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root renames in a directory without write permission")
	}
	l := movable(t, t.TempDir())
	before := snapshot(t, roots(l)...)
	projects := l.Projects()
	if err := os.Chmod(projects, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(projects, 0o755)
	_, err := lifecycle.Move(context.Background(), l, &fakeUnits{}, "a", "b", t.Errorf)
	var failed *lifecycle.MoveFailedError
	if !errors.As(err, &failed) {
		t.Fatalf("Move = %v, want a MoveFailedError", err)
	}
	os.Chmod(projects, 0o755)
	if d := snapshot(t, roots(l)...).diff(before); d != "" {
		t.Errorf("a failed move was not undone:\n%s", d)
	}
	if lifecycle.Pending(l, "a") {
		t.Error("the journal outlived the undone move")
	}
}

// Leftovers that match no state a move leaves are not guessed at.
func TestMoveUnresolved(t *testing.T) {
	root := t.TempDir()
	l := movable(t, root)
	runKilled(t, root, "move", lifecycle.MoveJournaled)
	os.MkdirAll(l.Project("b").Dir, 0o755) // both names now have a directory
	before := snapshot(t, roots(l)...)
	err := lifecycle.Recover(context.Background(), l, &fakeUnits{}, []string{"a"}, t.Errorf)
	var unresolved *lifecycle.UnresolvedError
	if !errors.As(err, &unresolved) || !strings.Contains(err.Error(), "both exist") || !strings.Contains(err.Error(), "journals/a.move") {
		t.Fatalf("Recover = %v", err)
	}
	if d := snapshot(t, roots(l)...).diff(before); d != "" {
		t.Errorf("an unresolved journal changed things:\n%s", d)
	}
}

// Locks follow the journals: recovering b needs a's lock too when a move
// of a to b was cut short.
func TestLockProjectsFollowsJournals(t *testing.T) {
	root := t.TempDir()
	l := movable(t, root)
	runKilled(t, root, "move", lifecycle.MoveConfig)
	locks, err := lifecycle.LockProjects(l, "test", "b")
	if err != nil {
		t.Fatal(err)
	}
	defer locks.Release()
	if len(locks) != 2 {
		t.Fatalf("%d locks taken, want a's and b's", len(locks))
	}
	if _, err := os.Stat(l.ProjectLock("a")); err != nil {
		t.Error(err)
	}
}

func TestMoveHashedHostKey(t *testing.T) {
	l := movable(t, t.TempDir())
	hashed := knownhosts.HashHostname("virtdev-a")
	write(t, l.Project("a").KnownHosts, hashed+" "+hostKey+"\nother "+hostKey+"\n")
	if _, err := lifecycle.Move(context.Background(), l, &fakeUnits{}, "a", "b", t.Errorf); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.Project("b").KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || lines[0] != "other "+hostKey || !strings.HasPrefix(lines[1], "|1|") || lines[1] == hashed+" "+hostKey {
		t.Errorf("known_hosts after the move:\n%s", data)
	}
}

// A move killed while writing its journal leaves the atomic write's
// temporary file, which the next program to take the project removes.
func TestRecoverSweepsJournalWrites(t *testing.T) {
	l := movable(t, t.TempDir())
	left := filepath.Join(l.Journals(), ".a.move"+fsutil.TempMarker+"123")
	other := filepath.Join(l.Journals(), ".c.move"+fsutil.TempMarker+"456")
	write(t, left, `{"from": "a", "to`)
	write(t, other, `{"from": "c", "to`)
	if err := lifecycle.Recover(context.Background(), l, &fakeUnits{}, []string{"a"}, t.Errorf); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the temporary file of a's journal is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("the temporary file of another project's journal went: %v", err)
	}
}
