package project

import (
	"fmt"
	"path/filepath"

	"virtdev/lib/config"
	"virtdev/lib/fsutil"
)

// RoomWarning says, when the file system that holds dir (or, while dir
// does not exist yet, its nearest parent that does) has less room than
// min, that it is short; it is empty otherwise, or when the room cannot be
// read. start and create say it before a guest finds out: QEMU pauses a
// machine whose disk cannot grow.
func RoomWarning(dir string, min config.Size) string {
	if min == 0 {
		return ""
	}
	var space fsutil.Space
	for {
		var err error
		if space, err = fsutil.SpaceOf(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	if space.Free >= int64(min) {
		return ""
	}
	return fmt.Sprintf("the file system under VIRTDEV_HOME is short of room: %s, less than VIRTDEV_MIN_FREE (%s)\n"+
		"When it is full, QEMU pauses the machines whose disks are on it until there is room again.\n"+
		"Free space there (see what takes it: %s), or set VIRTDEV_MIN_FREE to warn at another level (0: never).",
		space, fsutil.SizeText(int64(min)), space.Survey())
}
