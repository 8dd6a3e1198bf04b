package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"virtdev/lib/backup"
	"virtdev/lib/base"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

// Area is one directory nuke removes whole: VIRTDEV_HOME or VIRTDEV_CACHE.
type Area struct {
	Variable string // the environment variable that places it
	Dir      string
	// Known are the names virtdev makes in it; anything else means the
	// variable points somewhere it should not.
	Known []string
}

// Areas are the directories nuke removes. iso is VIRTDEV_ISO, which may
// lie in the cache.
func Areas(l layout.Layout, iso string) []Area {
	// Each may lie in the other, which is then no stranger there.
	home := []string{l.Lock(), l.Locks(), l.Journals(), l.System().Dir,
		l.Installation().Dir, l.Staging().Dir, l.Projects(), l.BackupRoot(), filepath.Dir(l.SSHKey), l.Cache}
	cache := []string{l.DeltaTemplates(), l.ISOWork(), l.ISOProfile(), iso, l.Home}
	return []Area{
		// A seal's scratch directory stands in for the base it becomes.
		{Variable: "VIRTDEV_HOME", Dir: l.Home, Known: append(childNames(l.Home, home), scratchOf(base.SealingPrefix))},
		{Variable: "VIRTDEV_CACHE", Dir: l.Cache, Known: childNames(l.Cache, cache)},
	}
}

// childNames are the names of those paths that lie directly in dir.
func childNames(dir string, paths []string) []string {
	var names []string
	for _, p := range paths {
		if filepath.Dir(p) == dir {
			names = append(names, filepath.Base(p))
		}
	}
	return names
}

// ForeignError refuses to remove a directory that holds more than
// virtdev's data: the variable that names it points somewhere else than
// its author meant.
type ForeignError struct {
	Area    Area
	Entries []string // what virtdev did not make, or why the place is wrong
	Reason  string
}

func (e *ForeignError) Error() string {
	what := e.Reason
	if what == "" {
		what = "it holds what virtdev did not make: " + strings.Join(e.Entries, ", ")
	}
	return fmt.Sprintf("%s=%s will not be removed: %s\nvirtdev-nuke removes only directories that hold virtdev's own data. Check %s; move anything of yours out of it, then run virtdev-nuke again.",
		e.Area.Variable, e.Area.Dir, what, e.Area.Variable)
}

// CheckForeign refuses an area that is the user's home, holds the user's
// virtdev configuration (never removed), or holds anything virtdev does
// not make. Missing areas pass.
func CheckForeign(a Area, configDir, userHome string) error {
	real, err := filepath.EvalSymlinks(a.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &ForeignError{Area: a, Reason: err.Error()}
	}
	for _, keep := range []struct{ path, what string }{{userHome, "your home directory"}, {configDir, "the configuration directory"}} {
		if keep.path == "" {
			continue
		}
		if k, err := filepath.EvalSymlinks(keep.path); err == nil {
			keep.path = k
		}
		if rel, err := filepath.Rel(real, keep.path); err == nil && !strings.HasPrefix(rel, "..") {
			return &ForeignError{Area: a, Reason: fmt.Sprintf("it holds %s, %s", keep.what, keep.path)}
		}
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return &ForeignError{Area: a, Reason: err.Error()}
	}
	var foreign []string
	for _, e := range entries {
		if !slices.Contains(a.Known, scratchOf(e.Name())) {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		return &ForeignError{Area: a, Entries: foreign}
	}
	return nil
}

// scratchOf is the name a scratch file or directory stands in for: virtdev
// writes ".<name>-<random>" or ".<name>.tmp-<random>" beside what it makes.
func scratchOf(name string) string {
	if !strings.HasPrefix(name, ".") {
		return name
	}
	stem := name[1:]
	if i := strings.IndexAny(stem, ".-"); i > 0 {
		return stem[:i]
	}
	return name
}

// NukeUnits is what nuke asks of the systemd user manager.
type NukeUnits interface {
	Units
	Running(ctx context.Context, pattern string) ([]string, error)
	Commands(ctx context.Context, service string) ([][]string, error)
}

// CheckNoneRunning refuses while any machine of this VIRTDEV_HOME runs:
// a project's or the maintenance machine (their units, or a port file),
// or any virtdev unit whose command names a file in VIRTDEV_HOME (a
// machine whose directory was removed by hand).
func CheckNoneRunning(ctx context.Context, l layout.Layout, units NukeUnits) error {
	projects, err := project.List(l)
	if err != nil {
		return err
	}
	machines := make([]layout.Machine, 0, len(projects)+1)
	for _, p := range projects {
		machines = append(machines, l.Project(p.Name))
	}
	if isDir(l.Staging().Dir) {
		machines = append(machines, l.Machine(layout.Maintenance))
	}
	for _, m := range machines {
		if err := CheckStopped(ctx, units, m); err != nil {
			return err
		}
	}
	running, err := units.Running(ctx, layout.Unit("*"))
	if err != nil {
		return exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether machines run")
	}
	for _, u := range running {
		commands, err := units.Commands(ctx, u)
		if err != nil {
			return exitcode.Wrap(exitcode.Running, err, "%s runs, and whether its machine uses %s is unknown\nStop it first: systemctl --user stop %s", u, l.Home, u)
		}
		for _, argv := range commands {
			for _, arg := range argv {
				if strings.Contains(arg, l.Home+string(filepath.Separator)) {
					return exitcode.New(exitcode.Running, "%s runs a machine from %s\nStop it first: systemctl --user stop %s", u, l.Home, u)
				}
			}
		}
	}
	return nil
}

// Remove deletes an area whole and returns whether there was anything to
// delete. A real directory is renamed to a hidden name beside it first,
// so it is gone in one step (the next nuke removes what an interrupted
// one left); a directory reached through a symbolic link, or in a parent
// it cannot be renamed in, is emptied where it is.
func Remove(a Area, report Reporter) (bool, error) {
	trash := nukeTrash(a.Dir)
	if exists(trash) {
		if err := os.RemoveAll(trash); err != nil {
			return false, &LeftoverError{Path: trash, Err: err}
		}
		report("Removed what an interrupted virtdev-nuke left of %s: %s", a.Variable, trash)
	}
	info, err := os.Lstat(a.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if info.IsDir() && renameNew(a.Dir, trash) == nil {
		if err := os.RemoveAll(trash); err != nil {
			return true, &LeftoverError{Path: trash, Err: err}
		}
		return true, nil
	}
	real, err := filepath.EvalSymlinks(a.Dir)
	if err != nil {
		return false, err
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(real, e.Name())); err != nil {
			return true, &LeftoverError{Path: real, Err: err}
		}
	}
	return true, nil
}

func nukeTrash(dir string) string {
	return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".nuking")
}

// Size is the disk space everything under dir takes.
func Size(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil {
			total += allocated(path)
		}
		return nil
	})
	return total
}

// ProjectNames are the names of every project, usable or not.
func ProjectNames(l layout.Layout) ([]string, error) {
	projects, err := project.List(l)
	names := make([]string, len(projects))
	for i, p := range projects {
		names[i] = p.Name
	}
	return names, err
}

// BackupCounts are the projects with backups under VIRTDEV_HOME and how
// many snapshots each has.
func BackupCounts(l layout.Layout) map[string]int {
	root := l.BackupRoot()
	entries, _ := os.ReadDir(root)
	counts := map[string]int{}
	for _, e := range entries {
		if e.IsDir() {
			counts[e.Name()] = len(backup.IDs(filepath.Join(root, e.Name())))
		}
	}
	return counts
}
