package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/rsync"
	"virtdev/lib/validate"
)

// Taken is a backup that succeeded.
type Taken struct {
	ID       string
	Snapshot layout.Snapshot
	Stats    rsync.Stats
	// Missing are the manifest's paths the guest did not have, skipped.
	Missing []string
}

// NothingError is a transfer that found nothing to transfer: none of the
// manifest's paths exist at its source.
type NothingError struct {
	Source   string // the guest, or the snapshot's tree
	Manifest string
	Entries  []string
}

func (e *NothingError) Error() string {
	return fmt.Sprintf("none of the %d paths the manifest %s lists exist in %s: %s",
		len(e.Entries), e.Manifest, e.Source, strings.Join(e.Entries, ", "))
}

// WriteError is a snapshot that could not be written on the host.
type WriteError struct{ Err error }

func (e *WriteError) Error() string {
	return fmt.Sprintf("cannot write the snapshot: %v\nMake room, or fix the permissions of the backups directory.", e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Generation reads the generation a running project's machine was started
// on, which its snapshot records: a number, or detached.
func Generation(m layout.Machine) (project.Generation, error) {
	return project.ReadGeneration(m.Generation, true)
}

// Take snapshots the manifest's paths from the link's running machine into
// a new snapshot of its project, recording the project, the manifest and
// the generation g. The caller holds the project's lock.
//
// The snapshot is written as <id>.partial and renamed into place only once
// complete and on disk: on any failure, an interrupt included, the partial
// snapshot is removed, and one left by a killed backup is removed by the
// next (with a warning), never taken for a snapshot.
func Take(ctx context.Context, k Link, manifest Manifest, g project.Generation) (Taken, error) {
	name := k.Target.Name
	dir := k.Layout.Backups(name)
	for _, p := range Partials(dir) {
		if err := os.RemoveAll(p); err != nil {
			k.Warnf("cannot remove %s, left by an interrupted backup: %v", p, err)
			continue
		}
		k.Warnf("removed %s, left by an interrupted backup (it was never complete)", p)
	}
	id, partial, err := begin(k.Layout, name)
	if err != nil {
		return Taken{}, err
	}
	done := false
	defer func() {
		if !done {
			if err := os.RemoveAll(partial.Dir); err != nil {
				k.Warnf("cannot remove the partial snapshot %s: %v", partial.Dir, err)
			}
		}
	}()
	if err := writeMetadata(partial, name, manifest, g); err != nil {
		return Taken{}, &WriteError{err}
	}
	stats, err := k.transfer(ctx, rsync.Transfer{
		Source: k.guest(), Dest: partial.Tree + "/", Files: manifest.Entries,
	})
	if err != nil {
		return Taken{Stats: stats}, explain(err, false, name, "")
	}
	if stats.Files == 0 {
		return Taken{Stats: stats}, &NothingError{Source: name + ":" + GuestHome, Manifest: manifest.Path, Entries: manifest.Entries}
	}
	final := k.Layout.Snapshot(name, id)
	if err := finish(partial.Dir, final.Dir); err != nil {
		return Taken{Stats: stats}, &WriteError{err}
	}
	done = true
	return Taken{ID: id, Snapshot: final, Stats: stats, Missing: missing(final.Tree, manifest.Entries)}, nil
}

// begin makes the partial snapshot directory for a new id: now, or the
// next second when a snapshot of this second exists (a backup right after
// another; the project's lock keeps two from running at once).
func begin(l layout.Layout, name string) (string, layout.Snapshot, error) {
	if err := os.MkdirAll(l.Backups(name), 0o700); err != nil {
		return "", layout.Snapshot{}, &WriteError{err}
	}
	for range 3 {
		now := time.Now().UTC()
		id := now.Format(validate.SnapshotLayout)
		final := l.Snapshot(name, id)
		partial := partialOf(final)
		if exists(final.Dir) || exists(partial.Dir) {
			time.Sleep(time.Until(now.Truncate(time.Second).Add(time.Second)))
			continue
		}
		if err := os.MkdirAll(filepath.Dir(final.Dir), 0o700); err != nil {
			return "", layout.Snapshot{}, &WriteError{err}
		}
		if err := os.Mkdir(partial.Dir, 0o700); err != nil {
			return "", layout.Snapshot{}, &WriteError{err}
		}
		return id, partial, nil
	}
	return "", layout.Snapshot{}, &WriteError{fmt.Errorf("no free snapshot id in %s: the clock does not advance", l.Backups(name))}
}

// partialOf is where snapshot s is written before it is complete.
func partialOf(s layout.Snapshot) layout.Snapshot {
	dir := s.Dir + PartialSuffix
	return layout.Snapshot{
		Dir:        dir,
		Project:    filepath.Join(dir, filepath.Base(s.Project)),
		Manifest:   filepath.Join(dir, filepath.Base(s.Manifest)),
		Generation: filepath.Join(dir, filepath.Base(s.Generation)),
		Tree:       filepath.Join(dir, filepath.Base(s.Tree)),
	}
}

func writeMetadata(s layout.Snapshot, name string, manifest Manifest, g project.Generation) error {
	if err := os.WriteFile(s.Project, []byte(name+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(s.Manifest, manifest.Text, 0o600); err != nil {
		return err
	}
	if err := project.WriteGeneration(s.Generation, g, 0o600); err != nil {
		return err
	}
	return os.Mkdir(s.Tree, 0o700)
}

// finish puts a complete snapshot in place: its files and directories on
// disk first, so that after a crash a snapshot with a valid id is whole.
// (syncfs would flush the whole file system, every other program's writes
// too, which on a busy host takes far longer than the snapshot's own.)
func finish(partial, final string) error {
	if err := syncTree(partial); err != nil {
		return fmt.Errorf("cannot flush %s to disk: %w", partial, err)
	}
	if err := os.Rename(partial, final); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(final))
}

// syncWorkers is how many files are flushed at once: file systems commit
// the flushes that come together as one (ext4 takes 10,000 small files in
// under a second so, against ten seconds one after the other).
const syncWorkers = 32

// syncTree flushes every regular file of a tree to disk, then every
// directory (symbolic links are entries of theirs).
func syncTree(root string) error {
	var files, dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			dirs = append(dirs, path)
		case d.Type().IsRegular():
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, batch := range [][]string{files, dirs} {
		if err := syncAll(batch); err != nil {
			return err
		}
	}
	return nil
}

// syncAll flushes files, syncWorkers at a time, and returns the first
// failure.
func syncAll(paths []string) error {
	work := make(chan string)
	failures := make(chan error, syncWorkers)
	var wg sync.WaitGroup
	for range syncWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var first error
			for path := range work {
				if err := fsync(path); err != nil && first == nil {
					first = err
				}
			}
			failures <- first
		}()
	}
	for _, p := range paths {
		work <- p
	}
	close(work)
	wg.Wait()
	close(failures)
	for err := range failures {
		if err != nil {
			return err
		}
	}
	return nil
}

func fsync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// missing are the entries a snapshot's tree does not hold.
func missing(tree string, entries []string) []string {
	var absent []string
	for _, e := range entries {
		if _, err := os.Lstat(filepath.Join(tree, e)); errors.Is(err, fs.ErrNotExist) {
			absent = append(absent, e)
		}
	}
	return absent
}

// exists tells whether anything is at path.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
