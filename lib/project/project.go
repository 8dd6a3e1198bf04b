// Package project reads what virtdev knows about projects from disk: which
// exist, which base generation each was derived from, and which SSH port
// each running machine has (its port file).
package project

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/validate"
)

// Entry is one project among the projects: Err says why it cannot be used
// (a symbolic link, not a directory, not readable), as Find would.
type Entry struct {
	Name string
	Err  error
}

// List returns every project, sorted by name, the unusable ones included:
// a project that is a symbolic link is refused by every program, and is
// still a project that stale must report and that seal's numbering must
// count. Entries whose names no program could have created (hidden scratch
// directories, the reserved maintenance) are no projects.
func List(l layout.Layout) ([]Entry, error) {
	entries, err := os.ReadDir(l.Projects())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if herr := CheckProjects(l); herr != nil {
			return nil, herr
		}
		return nil, err
	}
	var found []Entry
	for _, e := range entries {
		name := e.Name()
		if name == layout.Maintenance || !validate.IsProjectName(name) {
			continue
		}
		// The listing's types spare a stat per project (query programs
		// read every project).
		found = append(found, Entry{Name: name, Err: usable(name, l.ProjectDir(name), e.Type())})
	}
	slices.SortFunc(found, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return found, nil
}

// Find checks that name is a valid project name and that its directory is
// there and usable, and returns its machine. The errors carry the shared
// codes: invalid name, not found, or unusable.
//
// A project directory must be a real directory, not a symbolic link: every
// program treats the same entries as projects (list, stale and seal's
// numbering as much as start), and destroy and move must know what they
// remove or rename. To keep projects on another disk, put VIRTDEV_HOME there.
func Find(l layout.Layout, name string) (layout.Machine, error) {
	if err := validate.ProjectName(name); err != nil {
		return layout.Machine{}, err
	}
	m := l.Project(name)
	info, err := os.Lstat(m.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Not this project's fault when VIRTDEV_HOME itself is unusable.
		if herr := CheckProjects(l); herr != nil {
			return m, herr
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return m, exitcode.New(exitcode.NotFound, "project %q not found (no directory %s)\nList the projects with: virtdev-list; create this one with: virtdev-create %s", name, m.Dir, name)
	case err != nil:
		return m, exitcode.Wrap(exitcode.Unusable, err, "project %q cannot be used", name)
	}
	return m, usable(name, m.Dir, info.Mode().Type())
}

// usable applies Find's rule to a project directory of the given type (the
// type bits of its mode, as lstat or a directory listing reports them).
func usable(name, dir string, typ fs.FileMode) error {
	switch {
	case typ&fs.ModeSymlink != 0:
		return exitcode.New(exitcode.Unusable, "project %q cannot be used: %s is a symbolic link, and virtdev keeps projects as real directories\nMove the directory it points to into its place (or keep all of VIRTDEV_HOME on the other disk).", name, dir)
	case !typ.IsDir():
		return exitcode.New(exitcode.Unusable, "project %q cannot be used: %s is not a directory\nLook at it and move it away; virtdev-create %s makes a new project.", name, dir, name)
	}
	if err := syscall.Access(dir, 0o7); err != nil {
		return exitcode.Wrap(exitcode.Unusable, &fs.PathError{Op: "access", Path: dir, Err: err}, "project %q cannot be used", name)
	}
	return nil
}

// Detached is the generation a project records once its disks no longer
// depend on the base.
const Detached = "detached"

// Generation is the base generation a machine was derived from, or the
// detached mark.
type Generation struct {
	Number   int
	Detached bool
}

func (g Generation) String() string {
	if g.Detached {
		return Detached
	}
	return strconv.Itoa(g.Number)
}

// MaxGeneration bounds generations far beyond any number of reseals, so
// that the next one, and every sum or comparison of them, stays a valid
// number in every program: a larger number is a damaged file, not a
// generation.
const MaxGeneration = math.MaxInt32

// ErrNoGeneration is returned when a generation file does not exist.
var ErrNoGeneration = errors.New("generation file not found")

// CorruptError is a generation file whose content is not a generation.
type CorruptError struct {
	Path      string
	Content   string // the start of the file, at most maxGenerationFile bytes
	Truncated bool   // the file goes on beyond Content
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("generation file %s holds %s, not a positive whole number up to %d", e.Path, fsutil.Excerpt([]byte(e.Content), e.Truncated), MaxGeneration)
}

// ReadGeneration parses a generation file. A base never holds "detached";
// allowDetached says whether this file may.
func ReadGeneration(path string, allowDetached bool) (Generation, error) {
	data, truncated, err := fsutil.ReadPrefix(path, maxGenerationFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Generation{}, fsutil.Absent(ErrNoGeneration, path)
	}
	if err != nil {
		return Generation{}, err
	}
	text := strings.TrimSuffix(string(data), "\n")
	if allowDetached && text == Detached {
		return Generation{Detached: true}, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 || n > MaxGeneration || text != strconv.Itoa(n) {
		return Generation{}, &CorruptError{Path: path, Content: text, Truncated: truncated}
	}
	return Generation{Number: n}, nil
}

// maxGenerationFile bounds what is read of a generation file: far more than
// any valid content ("detached" or a number), so a longer file is corrupt
// whatever follows.
const maxGenerationFile = 64

// WriteGeneration records a generation the way ReadGeneration expects it.
func WriteGeneration(path string, g Generation, perm fs.FileMode) error {
	return os.WriteFile(path, []byte(g.String()+"\n"), perm)
}

// Staleness is why a project cannot boot on the current base, if it cannot.
type Staleness int

const (
	Current  Staleness = iota
	Outdated           // derived from an older (or newer) generation
	Unknown            // its own or the base's generation file is missing
)

// Stale tells whether a project's generation lags the base's. Detached
// projects are never stale. base is the sealed base's generation, or nil
// when the base has none.
func Stale(l layout.Layout, name string, base *Generation) (Staleness, error) {
	g, err := ReadGeneration(l.Project(name).Generation, true)
	switch {
	case errors.Is(err, ErrNoGeneration):
		return Unknown, nil
	case err != nil:
		return Current, err
	}
	return g.Against(base), nil
}

// Against tells whether a project of generation g lags the base's, or
// base is nil when the base has none, as Stale does once g is read.
func (g Generation) Against(base *Generation) Staleness {
	switch {
	case g.Detached:
		return Current
	case base == nil:
		return Unknown
	case g.Number != base.Number:
		return Outdated
	}
	return Current
}
