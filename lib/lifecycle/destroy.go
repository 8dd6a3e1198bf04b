package lifecycle

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"virtdev/lib/backup"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
)

// File is one file a destroy removes, with the disk space it takes.
type File struct {
	Path string
	Size int64 // bytes allocated on disk: qcow2 files are sparse
}

// Survey is what destroying a project removes and what it keeps.
type Survey struct {
	Dir       string
	Files     []File
	Backups   string // the project's backups directory, kept
	Snapshots int    // how many snapshots it holds
	Config    string // the project's configuration directory, kept; empty if none
}

// SurveyProject lists what destroying name would remove and keep.
func SurveyProject(l layout.Layout, name string) Survey {
	s := Survey{Dir: l.Project(name).Dir, Backups: l.Backups(name), Snapshots: len(backup.IDs(l.Backups(name)))}
	filepath.WalkDir(s.Dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			s.Files = append(s.Files, File{Path: path, Size: allocated(path)})
		}
		return nil
	})
	if isDir(l.ProjectConfig(name).Dir) {
		s.Config = l.ProjectConfig(name).Dir
	}
	return s
}

// allocated is the disk space a file takes.
func allocated(path string) int64 {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return 0
	}
	return st.Blocks * 512
}

// DestroyPending tells whether a destroy of name was cut short after the
// project was gone.
func DestroyPending(l layout.Layout, name string) bool {
	return exists(l.DestroyTrash(name))
}

// Destroy removes a project's directory and what systemd remembers of its
// unit. Its backups and its configuration stay. The caller holds its lock,
// has recovered it and checked that its machine is stopped.
//
// The directory is renamed to a hidden trash name first, so the project is
// gone in one step; a removal cut short is finished by Recover.
func Destroy(ctx context.Context, l layout.Layout, units Units, name string, report Reporter) error {
	dir, trash := l.Project(name).Dir, l.DestroyTrash(name)
	if err := renameNew(dir, trash); err != nil {
		return err
	}
	if err := fsutil.SyncDir(l.Projects()); err != nil {
		report("warning: %v", err)
	}
	reached(DestroyTrashed)
	if err := units.ResetFailed(ctx, layout.Unit(name)); err != nil {
		report("warning: %v", err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return &LeftoverError{Path: trash, Err: err}
	}
	return nil
}
