// Package base manages the sealed, read-only base every project derives
// from: sealing a fresh installation and deriving projects from it.
package base

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

// SealedMode is the mode of every sealed base file: a stray write from a
// program or a person must fail rather than corrupt every project's disks.
const SealedMode = 0o444

// Files are the files that make up a base, in the order they are checked.
func Files(b layout.Base) []string {
	return []string{b.SystemImage, b.HomeImage, b.NVRAM}
}

// MissingFile returns the first base file that is not a regular file.
func MissingFile(b layout.Base) (string, bool) {
	for _, f := range Files(b) {
		if info, err := os.Stat(f); err != nil || !info.Mode().IsRegular() {
			return f, true
		}
	}
	return "", false
}

// NextGeneration is the generation a newly sealed base gets: above every
// generation a project still records, so that projects derived from an
// earlier base (one removed by hand) can never pass the boot gate against
// disks they were not derived from.
func NextGeneration(l layout.Layout) (project.Generation, error) {
	highest := 0
	names, err := project.List(l)
	if err != nil {
		return project.Generation{}, err
	}
	for _, name := range names {
		g, err := project.ReadGeneration(l.Project(name).Generation, true)
		if err != nil || g.Detached {
			continue // a missing or corrupt record cannot collide
		}
		highest = max(highest, g.Number)
	}
	return project.Generation{Number: highest + 1}, nil
}

// Seal turns the installation into the sealed base. The files are gathered
// in a scratch directory that is renamed into place in one step, so system/
// either does not exist or is complete; on failure they are moved back.
func Seal(l layout.Layout, g project.Generation) error {
	inst, sys := l.Installation(), l.System()
	scratch, err := os.MkdirTemp(l.Home, ".sealing-")
	if err != nil {
		return err
	}
	staged := layout.Base{
		Dir:         scratch,
		SystemImage: filepath.Join(scratch, filepath.Base(inst.SystemImage)),
		HomeImage:   filepath.Join(scratch, filepath.Base(inst.HomeImage)),
		NVRAM:       filepath.Join(scratch, filepath.Base(inst.NVRAM)),
		Generation:  filepath.Join(scratch, filepath.Base(inst.Generation)),
	}
	from, to := Files(inst), Files(staged)
	moved := 0
	rollback := func(cause error) error {
		for i := moved - 1; i >= 0; i-- {
			if err := os.Rename(to[i], from[i]); err != nil {
				return fmt.Errorf("%w; moving %s back to %s also failed (%v): the file is in %s", cause, to[i], from[i], err, scratch)
			}
		}
		os.RemoveAll(scratch)
		return cause
	}
	for i := range from {
		if err := os.Rename(from[i], to[i]); err != nil {
			return rollback(err)
		}
		moved++
	}
	if err := project.WriteGeneration(staged.Generation, g, SealedMode); err != nil {
		return rollback(err)
	}
	for _, f := range to {
		if err := os.Chmod(f, SealedMode); err != nil {
			return rollback(err)
		}
	}
	if err := os.Rename(scratch, sys.Dir); err != nil {
		return rollback(err)
	}
	return nil
}

// ErrExists means the project directory is already there.
var ErrExists = errors.New("project exists")

// Derive creates a project as two thin deltas over the sealed base, a
// private copy of its UEFI variables and the base's generation. It builds in
// a hidden scratch directory renamed into place at the end, so a failure or
// an interrupt never leaves a half-made project behind.
func Derive(ctx context.Context, l layout.Layout, name string, g project.Generation) error {
	sys, m := l.System(), l.Project(name)
	if err := os.MkdirAll(l.Projects(), 0o755); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(l.Projects(), ".create-"+name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch) // a no-op once renamed into place
	in := func(path string) string { return filepath.Join(scratch, filepath.Base(path)) }

	if err := makeDeltas(ctx, l, sys, in(m.SystemImage), in(m.HomeImage)); err != nil {
		return err
	}
	if err := fsutil.Copy(sys.NVRAM, in(m.NVRAM), 0o644); err != nil {
		return err
	}
	if err := project.WriteGeneration(in(m.Generation), g, 0o644); err != nil {
		return err
	}
	if err := os.Rename(scratch, m.Dir); err != nil {
		if _, statErr := os.Stat(m.Dir); statErr == nil {
			return ErrExists
		}
		return err
	}
	return nil
}

// Sealed checks that the sealed base is there and whole, and returns its
// generation. Every program that relies on the base meets the same two
// conditions, with the shared codes: no sealed base (84), or a sealed base
// that is damaged (85) — a generation file that is missing or corrupt, or a
// base file that is not a regular file.
func Sealed(l layout.Layout) (project.Generation, error) {
	sys := l.System()
	if _, err := os.Lstat(sys.Dir); errors.Is(err, fs.ErrNotExist) {
		return project.Generation{}, exitcode.New(exitcode.NoBase,
			"no sealed base: %s does not exist\nBuild and seal one: virtdev-bootstrap && virtdev-seal", sys.Dir)
	}
	g, err := project.ReadGeneration(sys.Generation, false)
	if err != nil {
		return project.Generation{}, damaged(sys, err)
	}
	if missing, ok := MissingFile(sys); ok {
		return project.Generation{}, damaged(sys, fmt.Errorf("%s is missing or not a regular file", missing))
	}
	return g, nil
}

func damaged(sys layout.Base, err error) error {
	return &exitcode.Error{Code: exitcode.BaseDamaged, Err: err, Message: fmt.Sprintf(
		"the sealed base in %s is damaged: %v\nRestore the file from a backup, or rebuild the base (projects derived from it then need virtdev-recreate).", sys.Dir, err)}
}
