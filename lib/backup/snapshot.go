package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/validate"
)

// A snapshot lives in backups/<project>/<YYYY-MM-DD>/<HH-MM-SS>/, its id
// being the last two names: the time it was taken, in UTC (a wall clock
// that goes back an hour once a year would reorder them). It is written as
// <HH-MM-SS>.partial and renamed into place once whole, so that a directory
// with a valid id is a complete snapshot, whatever happened to the program
// that wrote it.

// PartialSuffix ends the name of a snapshot being written.
const PartialSuffix = ".partial"

// IDs lists the ids of the complete snapshots in a project's backups
// directory, oldest first.
func IDs(dir string) []string {
	found, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	var ids []string
	for _, path := range found {
		id := filepath.ToSlash(strings.TrimPrefix(path, dir+string(filepath.Separator)))
		if validate.SnapshotID(id) == nil && isDir(path) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Partials lists the snapshots left unfinished in a project's backups
// directory: by a backup killed on the way, or one under way.
func Partials(dir string) []string {
	found, _ := filepath.Glob(filepath.Join(dir, "*", "*"+PartialSuffix))
	var partial []string
	for _, path := range found {
		id := filepath.ToSlash(strings.TrimSuffix(strings.TrimPrefix(path, dir+string(filepath.Separator)), PartialSuffix))
		if validate.SnapshotID(id) == nil {
			partial = append(partial, path)
		}
	}
	slices.Sort(partial)
	return partial
}

// Latest is the newest snapshot's id, or "" when there is none.
func Latest(l layout.Layout, project string) string {
	ids := IDs(l.Backups(project))
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1]
}

// IDTime is the instant a snapshot id names.
func IDTime(id string) (time.Time, error) {
	return time.Parse(validate.SnapshotLayout, id)
}

// Info is a snapshot as virtdev-backup --list shows it.
type Info struct {
	ID    string
	Taken time.Time
	Size  int64 // bytes on disk
	// Generation is the generation the machine ran on when it was taken:
	// a number, "detached", "-" when unknown (an older snapshot) and
	// "<corrupt>" when its file holds something else.
	Generation string
}

// List describes a project's snapshots, oldest first.
func List(l layout.Layout, project string) []Info {
	var infos []Info
	for _, id := range IDs(l.Backups(project)) {
		s := l.Snapshot(project, id)
		taken, _ := IDTime(id)
		info := Info{ID: id, Taken: taken, Size: diskUsage(s.Dir), Generation: "-"}
		if g, err := ReadGeneration(s); err != nil {
			info.Generation = "<corrupt>"
		} else if g != nil {
			info.Generation = g.String()
		}
		infos = append(infos, info)
	}
	return infos
}

// diskUsage is the space a directory tree takes on disk, as du counts it.
func diskUsage(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		var st syscall.Stat_t
		if err == nil && syscall.Lstat(path, &st) == nil {
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}

// ReadGeneration reads the generation a snapshot records; nil when it
// records none (an empty or absent file: snapshots of machines whose
// generation was unknown).
func ReadGeneration(s layout.Snapshot) (*project.Generation, error) {
	info, err := os.Stat(s.Generation)
	if errors.Is(err, fs.ErrNotExist) || err == nil && info.Size() == 0 {
		return nil, nil
	}
	g, err := project.ReadGeneration(s.Generation, true)
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// Snapshot errors, each a reason restore refuses a snapshot.
var (
	// ErrNoSnapshots: the project has no complete snapshot.
	ErrNoSnapshots = errors.New("no snapshots")
	// ErrSnapshotNotFound: no snapshot has the id asked for.
	ErrSnapshotNotFound = errors.New("snapshot not found")
	// ErrNoMarker: the snapshot does not say which project it is of.
	ErrNoMarker = errors.New("snapshot without a project marker")
	// ErrSnapshotManifest, ErrNoTree: parts of the snapshot are missing.
	ErrSnapshotManifest = errors.New("snapshot without its manifest")
	ErrNoTree           = errors.New("snapshot without its tree")
)

// OtherProjectError is a snapshot whose marker names another project.
type OtherProjectError struct {
	Snapshot string
	Marker   string // the project it names
	Project  string // the project it was asked for
}

func (e *OtherProjectError) Error() string {
	return fmt.Sprintf("the snapshot %s was taken of project %q, not of %q", e.Snapshot, e.Marker, e.Project)
}

// SnapshotError is a snapshot that cannot be restored, and why.
type SnapshotError struct {
	Snapshot string // its directory
	Err      error  // one of the errors above, or the generation's
}

func (e *SnapshotError) Error() string {
	switch {
	case errors.Is(e.Err, ErrNoMarker):
		return fmt.Sprintf("the snapshot %s has no project marker (%s), so nothing tells which project it is of\n"+
			"It was not written by virtdev-backup, or was damaged since. Take a new one: virtdev-backup <project>",
			e.Snapshot, filepath.Join(e.Snapshot, "project"))
	case errors.Is(e.Err, ErrSnapshotManifest):
		return fmt.Sprintf("the snapshot %s has no copy of its manifest (%s), which says what it holds\nIt is damaged; restore another one (virtdev-backup --list <project>).",
			e.Snapshot, filepath.Join(e.Snapshot, "manifest"))
	case errors.Is(e.Err, ErrNoTree):
		return fmt.Sprintf("the snapshot %s has no tree (%s), the files themselves\nIt is damaged; restore another one (virtdev-backup --list <project>).",
			e.Snapshot, filepath.Join(e.Snapshot, "tree"))
	}
	return fmt.Sprintf("the snapshot %s cannot be restored: %v", e.Snapshot, e.Err)
}

func (e *SnapshotError) Unwrap() error { return e.Err }

// Opened is a snapshot checked for a restore.
type Opened struct {
	ID         string
	Snapshot   layout.Snapshot
	Manifest   Manifest
	Generation *project.Generation // nil when it records none
}

// Resolve turns what the user gave (an id, or "" for the latest) into a
// snapshot id of the project. The id must already be valid.
func Resolve(l layout.Layout, project, id string) (string, error) {
	if id == "" {
		if id = Latest(l, project); id == "" {
			return "", fmt.Errorf("%w of project %q in %s", ErrNoSnapshots, project, l.Backups(project))
		}
		return id, nil
	}
	if !isDir(l.Snapshot(project, id).Dir) {
		return "", fsutil.Absent(ErrSnapshotNotFound, l.Snapshot(project, id).Dir)
	}
	return id, nil
}

// Open checks that a snapshot is whole and of the project: its marker
// names the project, its manifest is there and valid, its tree is a
// directory, its generation file is empty or holds a generation.
func Open(l layout.Layout, project, id string) (Opened, error) {
	s := l.Snapshot(project, id)
	fail := func(err error) (Opened, error) { return Opened{}, &SnapshotError{Snapshot: s.Dir, Err: err} }
	marker, _, err := fsutil.ReadPrefix(s.Project, 4096)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(ErrNoMarker)
	case err != nil:
		return fail(err)
	}
	if name := strings.TrimSuffix(string(marker), "\n"); name != project {
		return Opened{}, &OtherProjectError{Snapshot: s.Dir, Marker: name, Project: project}
	}
	text, err := os.ReadFile(s.Manifest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(ErrSnapshotManifest)
	case err != nil:
		return fail(err)
	}
	manifest, err := ParseManifest(s.Manifest, text)
	if err != nil {
		return Opened{}, err
	}
	if !isDir(s.Tree) {
		return fail(ErrNoTree)
	}
	g, err := ReadGeneration(s)
	if err != nil {
		return Opened{}, err
	}
	return Opened{ID: id, Snapshot: s, Manifest: manifest, Generation: g}, nil
}

// isDir tells whether path is a real directory, not a link to one.
func isDir(path string) bool {
	info, err := os.Lstat(path)
	return err == nil && info.IsDir()
}
