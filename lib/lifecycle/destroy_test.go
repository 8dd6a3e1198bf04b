package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/lifecycle"
)

func TestDestroy(t *testing.T) {
	l := movable(t, t.TempDir())
	units := &fakeUnits{}
	s := lifecycle.SurveyProject(l, "a")
	if s.Snapshots != 1 || s.Config == "" || len(s.Files) != 4 {
		t.Errorf("survey %+v, want 4 files, 1 snapshot and the configuration", s)
	}
	keep := snapshot(t, l.BackupRoot(), l.ProjectConfig("a").Dir)
	if err := lifecycle.Destroy(context.Background(), l, units, "a", t.Errorf); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(l.Projects()); len(entries) != 0 {
		t.Errorf("left in %s: %v", l.Projects(), entries)
	}
	if d := snapshot(t, l.BackupRoot(), l.ProjectConfig("a").Dir).diff(keep); d != "" {
		t.Errorf("the backups or the configuration changed:\n%s", d)
	}
	if !slices.Equal(units.reset, []string{"virtdev-a.service"}) {
		t.Errorf("reset %v, want the project's unit", units.reset)
	}
}

func TestDestroyInterrupted(t *testing.T) {
	root := t.TempDir()
	l := movable(t, root)
	runKilled(t, root, "destroy", lifecycle.DestroyTrashed)
	if _, err := os.Stat(l.Project("a").Dir); !os.IsNotExist(err) {
		t.Fatalf("the project is still there after the rename: %v", err)
	}
	if !lifecycle.Pending(l, "a") {
		t.Fatal("the trash is not seen")
	}
	var said messages
	if err := lifecycle.Recover(context.Background(), l, &fakeUnits{}, []string{"a"}, said.report); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(l.Projects()); len(entries) != 0 {
		t.Errorf("left in %s: %v", l.Projects(), entries)
	}
	if !strings.Contains(said.String(), "removed what was left of it") {
		t.Errorf("Recover said %q", said)
	}
}

// A removal that fails leaves the project gone and says where its files
// are.
func TestDestroyLeftover(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root removes files from directories without write permission")
	}
	l := movable(t, t.TempDir())
	locked := filepath.Join(l.Project("a").Dir, "locked")
	write(t, filepath.Join(locked, "file"), "")
	os.Chmod(locked, 0o555)
	trash := filepath.Join(l.DestroyTrash("a"), "locked")
	defer os.Chmod(trash, 0o755)
	err := lifecycle.Destroy(context.Background(), l, &fakeUnits{}, "a", t.Errorf)
	var leftover *lifecycle.LeftoverError
	if !errors.As(err, &leftover) || leftover.Path != l.DestroyTrash("a") || !strings.Contains(err.Error(), "rm -rf "+l.DestroyTrash("a")) {
		t.Fatalf("Destroy = %v", err)
	}
	if _, err := os.Stat(l.Project("a").Dir); !os.IsNotExist(err) {
		t.Errorf("the project is still there: %v", err)
	}
	os.Chmod(trash, 0o755)
	if err := lifecycle.Recover(context.Background(), l, &fakeUnits{}, []string{"a"}, t.Logf); err != nil {
		t.Fatal(err)
	}
	if lifecycle.Pending(l, "a") {
		t.Error("the trash outlived Recover")
	}
}

// The states a detach swap by two renames can be cut between, on file
// systems without RENAME_EXCHANGE, each made by hand.
func TestRecoverTwoRenameSwap(t *testing.T) {
	for _, tc := range []struct {
		name         string
		dir, staging string // generation in each place, "" for absent
		attached     string
		wantDetached bool
		wantSaid     string
	}{
		{"between the renames", "", "detached", "1", true, "interrupted during the swap; finished it"},
		{"after the renames", "detached", "", "1", true, "after the swap; removed the attached disks"},
		{"before the second rename, without the copy", "", "", "1", false, "moved the attached project back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLayout(t.TempDir())
			for path, generation := range map[string]string{l.Project("a").Dir: tc.dir, l.DetachStaging("a"): tc.staging, l.DetachAttached("a"): tc.attached} {
				if generation != "" {
					write(t, filepath.Join(path, "generation"), generation+"\n")
				}
			}
			var said messages
			if err := lifecycle.Recover(context.Background(), l, &fakeUnits{}, []string{"a"}, said.report); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(l.Project("a").Generation)
			if err != nil || (string(data) == "detached\n") != tc.wantDetached {
				t.Errorf("the project's generation: %q, %v", data, err)
			}
			if lifecycle.Pending(l, "a") {
				t.Error("leftovers beside the project")
			}
			if !strings.Contains(said.String(), tc.wantSaid) {
				t.Errorf("Recover said %q, want %q", said, tc.wantSaid)
			}
		})
	}
}
