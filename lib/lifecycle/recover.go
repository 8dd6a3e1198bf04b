package lifecycle

import (
	"context"
	"fmt"
	"os"
	"strings"

	"virtdev/lib/layout"
	"virtdev/lib/project"
)

// Reporter tells people what happened; programs pass their Infof.
type Reporter func(format string, args ...any)

// UnresolvedError is an interrupted operation whose leftovers do not match
// any state virtdev leaves: something else changed them since. Nothing is
// touched; the message says what is where.
type UnresolvedError struct {
	Message string
}

func (e *UnresolvedError) Error() string { return e.Message }

// Recover finishes or undoes whatever lifecycle operation on names was
// cut short (by SIGKILL, a crash or a power cut), and reports what it did.
// The caller holds the locks LockProjects took for names.
func Recover(ctx context.Context, l layout.Layout, units Units, names []string, report Reporter) error {
	all, err := journals(l)
	if err != nil {
		return err
	}
	for _, j := range touching(all, names) {
		if err := j.resolve(ctx, l, units, report); err != nil {
			return err
		}
	}
	for _, name := range names {
		if err := sweepJournalWrites(l, name); err != nil {
			return err
		}
		if err := finishDestroy(l, name, report); err != nil {
			return err
		}
		if err := resolveDetach(l, name, report); err != nil {
			return err
		}
	}
	return nil
}

// finishDestroy removes the trash an interrupted destroy left.
func finishDestroy(l layout.Layout, name string, report Reporter) error {
	trash := l.DestroyTrash(name)
	if !exists(trash) {
		return nil
	}
	if err := os.RemoveAll(trash); err != nil {
		return &LeftoverError{Path: trash, Err: err}
	}
	report("An earlier virtdev-destroy %s was interrupted after the project was gone; removed what was left of it: %s", name, trash)
	return nil
}

// LeftoverError is a removal that could not be finished: what an
// operation left (the files of a destroyed project, a detached project's
// old disks, a killed move's unfinished journal) that nothing depends on
// any more, but that is still on disk.
type LeftoverError struct {
	Path string
	Err  error
}

func (e *LeftoverError) Error() string {
	return fmt.Sprintf("cannot remove %s: %v\nNothing depends on it any more; remove it by hand: rm -rf %s", e.Path, e.Err, e.Path)
}

func (e *LeftoverError) Unwrap() error { return e.Err }

// resolveDetach finds what an interrupted detach left beside the project
// directory. The generation files tell which directory is which: the
// detached one records "detached", the attached one a number (detach
// refuses projects that are already detached).
func resolveDetach(l layout.Layout, name string, report Reporter) error {
	dir, staging, attached := l.Project(name).Dir, l.DetachStaging(name), l.DetachAttached(name)
	switch {
	case exists(staging) && isDir(dir):
		if detachedAt(dir) && !detachedAt(staging) {
			if err := os.RemoveAll(staging); err != nil {
				return &LeftoverError{Path: staging, Err: err}
			}
			report("An earlier virtdev-detach %s was interrupted after the detached disks took their place; removed the attached disks left in %s", name, staging)
			return nil
		}
		if err := os.RemoveAll(staging); err != nil {
			return &LeftoverError{Path: staging, Err: err}
		}
		report("An earlier virtdev-detach %s was interrupted before the swap; the project is as it was, attached to the base. Removed the unfinished copy %s", name, staging)
	case exists(staging) && !exists(dir) && exists(attached):
		// The two-rename swap was cut between its renames.
		if !detachedAt(staging) {
			return &UnresolvedError{Message: fmt.Sprintf(
				"an interrupted virtdev-detach %s left %s and %s, and no %s; the first should hold the detached project but does not\n"+
					"Look at both: the one whose generation file holds a number is the attached project; move it back: mv <it> %s",
				name, staging, attached, dir, dir)}
		}
		if err := renameNew(staging, dir); err != nil {
			return err
		}
		if err := os.RemoveAll(attached); err != nil {
			return &LeftoverError{Path: attached, Err: err}
		}
		report("An earlier virtdev-detach %s was interrupted during the swap; finished it: the project is detached", name)
	case exists(attached) && isDir(dir):
		if err := os.RemoveAll(attached); err != nil {
			return &LeftoverError{Path: attached, Err: err}
		}
		report("An earlier virtdev-detach %s was interrupted after the swap; removed the attached disks left in %s", name, attached)
	case exists(attached) && !exists(dir):
		if err := renameNew(attached, dir); err != nil {
			return err
		}
		report("An earlier virtdev-detach %s was interrupted during the swap, before the detached disks were in place; moved the attached project back to %s", name, dir)
	}
	return nil
}

func detachedAt(dir string) bool {
	g, err := project.ReadGeneration(dir+"/generation", true)
	return err == nil && g.Detached
}

// resolve finishes a move whose project directory was renamed, and undoes
// one whose directory was not.
func (j moveJournal) resolve(ctx context.Context, l layout.Layout, units Units, report Reporter) error {
	fromDir, toDir := l.Project(j.From).Dir, l.Project(j.To).Dir
	when := fmt.Sprintf("An earlier virtdev-move %s %s (started %s, PID %d) was interrupted", j.From, j.To, j.Started.Local().Format("2006-01-02 15:04:05"), j.PID)
	switch {
	case isDir(toDir) && !exists(fromDir):
		if err := j.forward(l, nil); err != nil {
			return j.unresolved(l, err)
		}
		j.forgetOldName(ctx, units, report)
		report("%s after the project directory was renamed; finished it: the project is %s", when, j.To)
		return nil
	case isDir(fromDir) && !exists(toDir):
		if err := j.backward(l); err != nil {
			return j.unresolved(l, err)
		}
		report("%s before the project directory was renamed; undid it: the project is %s, as it was", when, j.From)
		return nil
	}
	state := "neither exists"
	if exists(fromDir) {
		state = "both exist"
	}
	return j.unresolved(l, fmt.Errorf("of %s and %s, %s", fromDir, toDir, state))
}

func (j moveJournal) unresolved(l layout.Layout, err error) error {
	var where []string
	for _, p := range j.places(l) {
		where = append(where, fmt.Sprintf("    %s: %s %s, %s %s", p.what, p.from, presence(p.from), p.to, presence(p.to)))
	}
	return &UnresolvedError{Message: fmt.Sprintf(
		"an interrupted virtdev-move %s %s cannot be finished or undone: %v\n%s\n"+
			"Its journal %s is kept. Put each of these under one name (mv), then remove the journal: rm %s",
		j.From, j.To, err, strings.Join(where, "\n"), journalPath(l, j.From), journalPath(l, j.From))}
}

func presence(path string) string {
	if exists(path) {
		return "(exists)"
	}
	return "(absent)"
}
