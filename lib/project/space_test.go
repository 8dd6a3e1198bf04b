package project_test

import (
	"path/filepath"
	"strings"
	"testing"

	"virtdev/lib/config"
	"virtdev/lib/fsutil"
	"virtdev/lib/project"
)

// The warning compares the room with VIRTDEV_MIN_FREE, on the file system
// of the nearest directory that exists.
func TestRoomWarning(t *testing.T) {
	dir := t.TempDir()
	space, err := fsutil.SpaceOf(dir)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "projects", "new")
	above := config.Size(space.Free + 1<<40)
	if w := project.RoomWarning(missing, above); !strings.Contains(w, "VIRTDEV_MIN_FREE") || !strings.Contains(w, space.MountPoint) || !strings.Contains(w, "du -xh") {
		t.Errorf("with VIRTDEV_MIN_FREE above the room: %q", w)
	}
	for _, min := range []config.Size{0, 1} {
		if w := project.RoomWarning(missing, min); w != "" {
			t.Errorf("with VIRTDEV_MIN_FREE %d: %q", min, w)
		}
	}
}
