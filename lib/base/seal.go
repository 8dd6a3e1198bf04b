package base

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

// NumberingError means that no generation can be chosen for a new base:
// a project's generation cannot be read, so the new number might equal it,
// or a project already records the last generation there is.
type NumberingError struct {
	Project string
	Path    string
	Err     error
}

func (e *NumberingError) Error() string {
	return fmt.Sprintf("cannot choose a generation above project %q's: %v", e.Project, e.Err)
}

func (e *NumberingError) Unwrap() error { return e.Err }

// NextGeneration is the generation a newly sealed base gets: above every
// generation a project still records, so that projects derived from an
// earlier base (one removed by hand) can never pass the boot gate against
// disks they were not derived from. Projects that cannot be used (a
// symbolic link) are counted too: they become usable again once the user
// puts the real directory in place.
func NextGeneration(l layout.Layout) (project.Generation, error) {
	highest := 0
	entries, err := project.List(l)
	if err != nil {
		return project.Generation{}, err
	}
	for _, e := range entries {
		path := l.Project(e.Name).Generation
		g, err := project.ReadGeneration(path, true)
		switch {
		case errors.Is(err, project.ErrNoGeneration), errors.Is(err, syscall.ENOTDIR):
			continue // no record (or a file, not a directory) cannot collide
		case err != nil:
			return project.Generation{}, &NumberingError{Project: e.Name, Path: path, Err: err}
		case g.Detached:
			continue
		case g.Number == project.MaxGeneration:
			return project.Generation{}, &NumberingError{Project: e.Name, Path: path,
				Err: fmt.Errorf("it records %d, the last generation there is", g.Number)}
		}
		highest = max(highest, g.Number)
	}
	return project.Generation{Number: highest + 1}, nil
}

// Names used while sealing. A seal gathers the base in a scratch directory
// in VIRTDEV_HOME, named SealingPrefix and something random; while the
// scratch holds modesRecord, the files' original modes, the seal may be
// undone, and once it does not and the base in it is whole, it may be
// finished.
const (
	SealingPrefix = ".sealing-"
	modesRecord   = ".modes"
)

// baseNames are the files an installation has and a seal moves, by name.
func baseNames(b layout.Base) []string {
	names := make([]string, 0, 3)
	for _, f := range Files(b) {
		names = append(names, filepath.Base(f))
	}
	return names
}

// Seal turns the installation into the sealed base. The files are gathered
// in a scratch directory that is renamed into place in one step, so system/
// either does not exist or is complete. On failure the files go back to
// the installation with the modes they had; a seal killed on the way is
// undone or finished by Recover.
func Seal(l layout.Layout, g project.Generation) (err error) {
	inst, sys := l.Installation(), l.System()
	scratch, err := os.MkdirTemp(l.Home, SealingPrefix)
	if err != nil {
		return err
	}
	modes := map[string]fs.FileMode{}
	defer func() {
		if err != nil {
			if _, uerr := unseal(l, scratch, modes); uerr != nil {
				err = fmt.Errorf("%w; %v", err, uerr)
			}
		}
	}()
	names := baseNames(inst)
	var record strings.Builder
	for _, name := range names {
		info, err := os.Stat(filepath.Join(inst.Dir, name))
		if err != nil {
			return err
		}
		modes[name] = info.Mode().Perm()
		fmt.Fprintf(&record, "%04o %s\n", modes[name], name)
	}
	// The record is in place before the first file moves: whatever a kill
	// leaves, the modes to restore are known.
	if err := fsutil.WriteAtomic(filepath.Join(scratch, modesRecord), []byte(record.String()), 0o600); err != nil {
		return err
	}
	for _, name := range names {
		if err := os.Rename(filepath.Join(inst.Dir, name), filepath.Join(scratch, name)); err != nil {
			return err
		}
	}
	generation := filepath.Join(scratch, filepath.Base(sys.Generation))
	if err := fsutil.WriteAtomic(generation, []byte(g.String()+"\n"), SealedMode); err != nil {
		return err
	}
	for _, name := range names {
		if err := os.Chmod(filepath.Join(scratch, name), SealedMode); err != nil {
			return err
		}
	}
	// From here on the scratch holds a whole sealed base.
	if err := os.Remove(filepath.Join(scratch, modesRecord)); err != nil {
		return err
	}
	if err := os.Rename(scratch, sys.Dir); err != nil {
		return err
	}
	// The base is sealed; the sync only makes the rename survive a crash
	// sooner, and its failure must not undo what is done.
	_ = fsutil.SyncDir(l.Home)
	return nil
}

// unseal undoes a seal that did not finish: it puts the base files the
// scratch holds back into installation/, with the modes they had (modes,
// by name; a file without one keeps its mode), and removes the scratch
// (see putBack). It returns the names of the files it moved.
func unseal(l layout.Layout, scratch string, modes map[string]fs.FileMode) ([]string, error) {
	moved, err := putBack(scratch, l.Installation(), modes)
	if err != nil {
		return moved, leftBehind(scratch, err)
	}
	return moved, os.RemoveAll(scratch)
}

// putBack moves the base files scratch holds into b, giving those named in
// modes their mode. It never replaces a file, and stops at the first that
// cannot go back. It returns the names of the files it moved.
func putBack(scratch string, b layout.Base, modes map[string]fs.FileMode) ([]string, error) {
	var moved []string
	for _, name := range baseNames(b) {
		from, to := filepath.Join(scratch, name), filepath.Join(b.Dir, name)
		if _, err := os.Lstat(from); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := os.MkdirAll(b.Dir, 0o755); err != nil {
			return moved, err
		}
		if _, err := os.Lstat(to); err == nil {
			return moved, fmt.Errorf("%s exists too, and virtdev does not know which one to keep", to)
		}
		if mode, ok := modes[name]; ok {
			if err := os.Chmod(from, mode); err != nil {
				return moved, err
			}
		}
		if err := os.Rename(from, to); err != nil {
			return moved, err
		}
		moved = append(moved, name)
	}
	return moved, nil
}

func leftBehind(scratch string, err error) error {
	return fmt.Errorf("cannot put the installation back from %s: %w\nIts files are still there; move them back into installation/ by hand, then remove it.", scratch, err)
}

// readModes reads the record Seal keeps of the modes it is about to
// change. A missing record means none was changed.
func readModes(path string) map[string]fs.FileMode {
	data, _, err := fsutil.ReadPrefix(path, 4096)
	modes := map[string]fs.FileMode{}
	if err != nil {
		return modes
	}
	for _, line := range strings.Split(string(data), "\n") {
		text, name, ok := strings.Cut(line, " ")
		if n, err := strconv.ParseUint(text, 8, 32); ok && err == nil && n <= 0o777 {
			modes[name] = fs.FileMode(n)
		}
	}
	return modes
}

// sealings are the scratch directories of seals that did not finish.
func sealings(l layout.Layout) []string {
	entries, _ := os.ReadDir(l.Home)
	var found []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), SealingPrefix) {
			found = append(found, filepath.Join(l.Home, e.Name()))
		}
	}
	return found
}

// Recovery is what Recover put right, for people.
type Recovery struct {
	Done []string
	// Finished says that an interrupted seal was finished: system/ is the
	// base it sealed.
	Finished bool
}

// Recover puts right what a seal or a reseal killed on the way left behind
// (SIGKILL, a crash). Of a seal: a scratch directory holding a whole
// sealed base is renamed into place, as the seal was about to; any other
// is undone, its files going back into installation/ with their modes. An
// installation/ left empty is removed. Of a reseal: see Reseal. Only a
// program that holds the base lock exclusively may call it.
func Recover(l layout.Layout) (Recovery, error) {
	var r Recovery
	done, err := recoverReseal(l)
	r.Done = append(r.Done, done...)
	if err != nil {
		return r, err
	}
	for _, scratch := range sealings(l) {
		if g, ok := whole(l, scratch); ok {
			if err := os.Rename(scratch, l.System().Dir); err != nil {
				return r, fmt.Errorf("cannot finish the seal an interrupted virtdev-seal left in %s: %w", scratch, err)
			}
			r.Finished = true
			r.Done = append(r.Done, fmt.Sprintf("finished the seal an interrupted virtdev-seal left in %s: %s is the base, generation %s", scratch, l.System().Dir, g))
			continue
		}
		moved, err := unseal(l, scratch, readModes(filepath.Join(scratch, modesRecord)))
		if err != nil {
			return r, err
		}
		if len(moved) > 0 {
			r.Done = append(r.Done, fmt.Sprintf("undid the seal an interrupted virtdev-seal left in %s: moved %s back into %s, with their modes",
				scratch, strings.Join(moved, ", "), l.Installation().Dir))
		} else {
			r.Done = append(r.Done, fmt.Sprintf("removed %s, which an interrupted virtdev-seal left empty", scratch))
		}
	}
	inst := l.Installation().Dir
	if entries, err := os.ReadDir(inst); err == nil && len(entries) == 0 {
		if err := os.Remove(inst); err != nil {
			return r, err
		}
		r.Done = append(r.Done, fmt.Sprintf("removed the empty directory %s (an interrupted virtdev-seal had moved its files)", inst))
	}
	return r, nil
}

// whole reports whether scratch holds a whole sealed base that Seal was
// about to rename into place, and its generation.
func whole(l layout.Layout, scratch string) (project.Generation, bool) {
	if _, err := os.Lstat(filepath.Join(scratch, modesRecord)); !errors.Is(err, fs.ErrNotExist) {
		return project.Generation{}, false
	}
	if _, err := os.Lstat(l.System().Dir); !errors.Is(err, fs.ErrNotExist) {
		return project.Generation{}, false
	}
	return complete(l, scratch)
}
