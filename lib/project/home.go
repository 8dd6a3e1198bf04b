package project

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
)

// CheckHome explains a failure to reach something under VIRTDEV_HOME: when
// VIRTDEV_HOME is there but is not a directory this user can read and
// search, the error says so, with the shared code for an unusable
// VIRTDEV_HOME. Programs that take no lock meet VIRTDEV_HOME only through
// the paths under it, and would otherwise report a missing base or a
// damaged project where the whole data directory is at fault. A
// VIRTDEV_HOME that does not exist is fine: it holds nothing yet.
func CheckHome(l layout.Layout) error {
	return checkDir(l.Home, "VIRTDEV_HOME "+l.Home)
}

// CheckProjects is CheckHome, then the same check of the projects directory.
func CheckProjects(l layout.Layout) error {
	if err := CheckHome(l); err != nil {
		return err
	}
	return checkDir(l.Projects(), "the projects directory "+l.Projects())
}

func checkDir(dir, what string) error {
	info, err := os.Stat(dir)
	fix := "Move it away, or set VIRTDEV_HOME to a directory of yours."
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err == nil && !info.IsDir():
		err = fmt.Errorf("it is not a directory but %s", typeName(info.Mode()))
	case err == nil:
		if aerr := unix.Access(dir, unix.R_OK|unix.X_OK); aerr != nil {
			err = &fs.PathError{Op: "access", Path: dir, Err: aerr}
			fix = "Give yourself access: chmod u+rwx " + dir
		}
	}
	if err == nil {
		return nil
	}
	return &exitcode.Error{Code: exitcode.HomeUnusable, Err: err, Message: fmt.Sprintf(
		"%s cannot be used (it must be a directory you can read and write): %v\n%s", what, err, fix)}
}

func typeName(m fs.FileMode) string {
	if m.IsRegular() {
		return "a regular file"
	}
	return "a special file (" + m.Type().String() + ")"
}
