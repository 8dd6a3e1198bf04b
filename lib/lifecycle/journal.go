package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/validate"
)

// moveJournal records a move before it changes anything, in
// $VIRTDEV_HOME/journals/<from>.move, outside both project directories.
type moveJournal struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Config and Backups say whether the project had a configuration
	// directory and backups when the move began, which the move carries
	// to the new name; only those are ever carried back.
	Config  bool      `json:"config"`
	Backups bool      `json:"backups"`
	Started time.Time `json:"started"`
	PID     int       `json:"pid"`
}

const journalSuffix = ".move"

func journalPath(l layout.Layout, from string) string {
	return filepath.Join(l.Journals(), from+journalSuffix)
}

func (j moveJournal) write(l layout.Layout) error {
	if err := os.MkdirAll(l.Journals(), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(journalPath(l, j.From), append(data, '\n'), 0o600)
}

func (j moveJournal) remove(l layout.Layout) error {
	if err := os.Remove(journalPath(l, j.From)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return fsutil.SyncDir(l.Journals())
}

// sweepJournalWrites removes what a move of name left when it was killed
// while writing its journal: fsutil.WriteAtomic's temporary files, which
// hold nothing the move had done yet. Only a move of name writes them, and
// the caller holds name's lock, so none of them is still being written.
func sweepJournalWrites(l layout.Layout, name string) error {
	entries, err := os.ReadDir(l.Journals())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	prefix := "." + name + journalSuffix + fsutil.TempMarker
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		path := filepath.Join(l.Journals(), e.Name())
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return &LeftoverError{Path: path, Err: err}
		}
	}
	return nil
}

// unreadable is a journal that cannot be read: something other than
// virtdev wrote it, or the disk failed.
func unreadable(path string, err error) error {
	return &UnresolvedError{Message: fmt.Sprintf("cannot read the journal of an interrupted move, %s: %v\n"+
		"Look at it: it names the two projects and what had moved. Once both are as they should be, remove it: rm %s",
		path, err, path)}
}

// journals reads every move journal.
func journals(l layout.Layout) ([]moveJournal, error) {
	entries, err := os.ReadDir(l.Journals())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var found []moveJournal
	for _, e := range entries {
		from, ok := strings.CutSuffix(e.Name(), journalSuffix)
		if !ok || !validate.IsProjectName(from) {
			continue
		}
		path := filepath.Join(l.Journals(), e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, unreadable(path, err)
		}
		var j moveJournal
		if err := json.Unmarshal(data, &j); err != nil {
			return nil, unreadable(path, err)
		}
		if j.From != from || !validate.IsProjectName(j.To) {
			return nil, unreadable(path, fmt.Errorf("it names the move of %q to %q", j.From, j.To))
		}
		found = append(found, j)
	}
	return found, nil
}

// touching are the journals that involve any of names.
func touching(all []moveJournal, names []string) []moveJournal {
	var found []moveJournal
	for _, j := range all {
		if slices.Contains(names, j.From) || slices.Contains(names, j.To) {
			found = append(found, j)
		}
	}
	return found
}

// Locks are the project locks a lifecycle program holds.
type Locks []*lock.Lock

// Release gives them all up.
func (ls Locks) Release() {
	for _, l := range ls {
		l.Release()
	}
}

// LockProjects takes the locks of names and of every project an
// interrupted move links them to (whose recovery changes both names), in
// name order.
func LockProjects(l layout.Layout, program string, names ...string) (Locks, error) {
	want := sortedUnique(names)
	var held Locks
	taken := map[string]bool{}
	for {
		all, err := journals(l)
		if err != nil {
			held.Release()
			return nil, err
		}
		// The names linked by journals, however many moves were cut
		// short one after the other.
		for grown := true; grown; {
			grown = false
			for _, j := range touching(all, want) {
				for _, n := range []string{j.From, j.To} {
					if !slices.Contains(want, n) {
						want, grown = sortedUnique(append(want, n)), true
					}
				}
			}
		}
		missing := false
		for _, n := range want {
			if taken[n] {
				continue
			}
			missing = true
			lk, err := lock.Project(l, n, program)
			if err != nil {
				held.Release()
				return nil, err
			}
			held, taken[n] = append(held, lk), true
		}
		// With every name locked no journal involving them can appear
		// or change; one more look finds any written just before.
		if !missing {
			return held, nil
		}
	}
}

// MovePending tells whether a move of from to to was cut short.
func MovePending(l layout.Layout, from, to string) bool {
	all, _ := journals(l)
	for _, j := range all {
		if j.From == from && j.To == to {
			return true
		}
	}
	return false
}
