package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/lifecycle"
)

// home is a VIRTDEV_HOME and a cache as virtdev fills them.
func home(t *testing.T) (layout.Layout, []lifecycle.Area) {
	t.Helper()
	l := movable(t, t.TempDir())
	write(t, l.Lock(), "")
	write(t, l.ProjectLock("a"), "")
	write(t, l.SSHKey, "key")
	write(t, l.System().Generation, "1\n")
	write(t, filepath.Join(l.Home, ".installation-123", "x"), "") // a build's scratch
	write(t, filepath.Join(l.Home, ".sealing-456", "x"), "")      // a seal's
	write(t, filepath.Join(l.DeltaTemplates(), "k", "system.qcow2"), "")
	return l, lifecycle.Areas(l, filepath.Join(l.Cache, "virtdev.iso"))
}

func TestCheckForeign(t *testing.T) {
	l, areas := home(t)
	userHome := filepath.Dir(l.Home)
	for _, a := range areas {
		if err := lifecycle.CheckForeign(a, l.ConfigDir, "/nonexistent"); err != nil {
			t.Errorf("virtdev's own %s refused: %v", a.Variable, err)
		}
	}
	write(t, filepath.Join(l.Home, "notes.txt"), "mine")
	var foreign *lifecycle.ForeignError
	if err := lifecycle.CheckForeign(areas[0], l.ConfigDir, "/nonexistent"); !errors.As(err, &foreign) || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("a stranger in VIRTDEV_HOME: %v", err)
	}
	// A home directory that holds the user's home, or the configuration.
	wide := lifecycle.Area{Variable: "VIRTDEV_HOME", Dir: filepath.Dir(userHome)}
	if err := lifecycle.CheckForeign(wide, "/nonexistent", userHome); !errors.As(err, &foreign) || !strings.Contains(err.Error(), "your home directory") {
		t.Errorf("VIRTDEV_HOME above the home directory: %v", err)
	}
	holding := lifecycle.Area{Variable: "VIRTDEV_HOME", Dir: filepath.Dir(l.ConfigDir)}
	if err := lifecycle.CheckForeign(holding, l.ConfigDir, "/nonexistent"); !errors.As(err, &foreign) || !strings.Contains(err.Error(), "configuration directory") {
		t.Errorf("VIRTDEV_HOME holding the configuration: %v", err)
	}
	missing := lifecycle.Area{Variable: "VIRTDEV_CACHE", Dir: filepath.Join(l.Home, "nope")}
	if err := lifecycle.CheckForeign(missing, l.ConfigDir, userHome); err != nil {
		t.Errorf("a missing area: %v", err)
	}
}

// A cache kept inside VIRTDEV_HOME is virtdev's, not a stranger.
func TestCheckForeignNested(t *testing.T) {
	l, _ := home(t)
	l.Cache = filepath.Join(l.Home, "cache")
	write(t, filepath.Join(l.DeltaTemplates(), "k", "home.qcow2"), "")
	for _, a := range lifecycle.Areas(l, filepath.Join(l.Cache, "virtdev.iso")) {
		if err := lifecycle.CheckForeign(a, l.ConfigDir, "/nonexistent"); err != nil {
			t.Errorf("%s: %v", a.Variable, err)
		}
	}
}

func TestRemove(t *testing.T) {
	l, areas := home(t)
	config := snapshot(t, l.ConfigDir)
	for _, a := range areas {
		removed, err := lifecycle.Remove(a, t.Errorf)
		if err != nil || !removed {
			t.Fatalf("Remove(%s) = %v, %v", a.Dir, removed, err)
		}
		if _, err := os.Lstat(a.Dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", a.Dir, err)
		}
		if removed, err := lifecycle.Remove(a, t.Errorf); removed || err != nil {
			t.Errorf("Remove of nothing = %v, %v", removed, err)
		}
	}
	if d := snapshot(t, l.ConfigDir).diff(config); d != "" {
		t.Errorf("the configuration changed:\n%s", d)
	}
	if entries, _ := os.ReadDir(filepath.Dir(l.Home)); len(entries) != 1 { // the configuration's parent
		t.Errorf("left beside VIRTDEV_HOME: %v", entries)
	}
}

// A directory reached through a symbolic link is emptied; the link and the
// directory it leads to stay, for the data to come.
func TestRemoveThroughLink(t *testing.T) {
	l, areas := home(t)
	elsewhere := filepath.Join(t.TempDir(), "big-disk")
	if err := os.Rename(l.Home, elsewhere); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, l.Home); err != nil {
		t.Fatal(err)
	}
	if removed, err := lifecycle.Remove(areas[0], t.Errorf); err != nil || !removed {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	if entries, err := os.ReadDir(l.Home); err != nil || len(entries) != 0 {
		t.Errorf("through the link: %v, %v", entries, err)
	}
}

// What an interrupted nuke left beside VIRTDEV_HOME goes with the next.
func TestRemoveLeftover(t *testing.T) {
	l, areas := home(t)
	trash := filepath.Join(filepath.Dir(l.Home), "."+filepath.Base(l.Home)+".nuking")
	write(t, filepath.Join(trash, "projects", "old", "system.qcow2"), "")
	var said messages
	if _, err := lifecycle.Remove(areas[0], said.report); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(trash); !os.IsNotExist(err) || !strings.Contains(said.String(), "interrupted virtdev-nuke") {
		t.Errorf("the leftover: %v; said %q", err, said)
	}
}

func TestCheckNoneRunning(t *testing.T) {
	ctx := context.Background()
	l, _ := home(t)
	units := &fakeUnits{running: map[string]bool{}, commands: map[string][][]string{}}
	if err := lifecycle.CheckNoneRunning(ctx, l, units); err != nil {
		t.Fatal(err)
	}
	// A machine of another VIRTDEV_HOME is not in the way.
	units.running["virtdev-other.service"] = true
	units.commands["virtdev-other.service"] = [][]string{{"qemu", "file=/elsewhere/projects/other/system.qcow2"}}
	if err := lifecycle.CheckNoneRunning(ctx, l, units); err != nil {
		t.Errorf("another home's machine: %v", err)
	}
	// One whose command names a file here is, project directory or not.
	units.commands["virtdev-other.service"] = [][]string{{"rm", "-f", l.Project("gone").Port}}
	if err := lifecycle.CheckNoneRunning(ctx, l, units); exitcode.For(err) != exitcode.Running.N {
		t.Errorf("a machine of this home without its directory: %v", err)
	}
	delete(units.running, "virtdev-other.service")
	units.running["virtdev-a.service"] = true
	if err := lifecycle.CheckNoneRunning(ctx, l, units); exitcode.For(err) != exitcode.Running.N {
		t.Errorf("a project's machine: %v", err)
	}
	delete(units.running, "virtdev-a.service")
	write(t, l.Machine(layout.Maintenance).Port, "2222\n")
	if err := lifecycle.CheckNoneRunning(ctx, l, units); exitcode.For(err) != exitcode.StalePort.N {
		t.Errorf("the maintenance machine's port file: %v", err)
	}
}
