package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/sshx"
	"virtdev/lib/validate"
)

// TakenError refuses a move onto a name a project already has.
type TakenError struct {
	Name, Path string
}

func (e *TakenError) Error() string {
	return fmt.Sprintf("project %q already exists: %s\nChoose another name, or destroy that project first: virtdev-destroy %s", e.Name, e.Path, e.Name)
}

// InTheWayError refuses a move whose new name already has backups or a
// configuration directory while the project has its own: the two would
// mix.
type InTheWayError struct {
	What     string // "backups" or "configuration"
	From, To string // the project's, and the one in the way
	Name     string // the new name
}

func (e *InTheWayError) Error() string {
	return fmt.Sprintf("the name %q already has %s, %s, and the project has its own, %s; moving would mix them\n"+
		"They are left from an earlier project of that name. Move them aside (mv %s %s.old) or remove them, then move again.",
		e.Name, e.What, e.To, e.From, e.To, e.To)
}

// MoveFailedError is a move that failed before the project was renamed,
// and was undone: everything is under the old name, as it was.
type MoveFailedError struct {
	From, To string
	Err      error
}

func (e *MoveFailedError) Error() string {
	return fmt.Sprintf("cannot move %s to %s: %v\nNothing was moved: everything is under %s, as it was.", e.From, e.To, e.Err, e.From)
}

func (e *MoveFailedError) Unwrap() error { return e.Err }

// Moved is one thing a move carried to the new name.
type Moved struct {
	What, From, To string
}

// MoveReport is what a move did.
type MoveReport struct {
	Moved []Moved
	// Adopted are the new name's own backups or configuration directory,
	// left from an earlier project of that name, which the project has
	// now (it had none of its own).
	Adopted []string
}

// Move renames project from to to: its directory (disks, firmware
// variables, the pinned host key, runtime records), its backups (their
// project markers follow) and its configuration directory. The caller
// holds both names' locks (LockProjects) and has recovered them
// (Recover); from exists.
//
// A journal is written first. The configuration and the backups move
// next, the project directory last: until that rename the project is
// whole under its old name (an interruption is undone by Recover), from
// it on under the new one (an interruption is finished by Recover).
func Move(ctx context.Context, l layout.Layout, units Units, from, to string, report Reporter) (MoveReport, error) {
	j := moveJournal{From: from, To: to, Started: time.Now(), PID: os.Getpid()}
	if exists(l.Project(to).Dir) {
		return MoveReport{}, &TakenError{Name: to, Path: l.Project(to).Dir}
	}
	if err := CheckStopped(ctx, units, l.Project(from)); err != nil {
		return MoveReport{}, err
	}
	// A machine of the new name may run from another VIRTDEV_HOME (its
	// unit names no directory); the project could not start under it.
	st, err := units.Status(ctx, layout.Unit(to))
	if err != nil {
		return MoveReport{}, exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether a machine named %s runs", to)
	}
	if st.Running() {
		return MoveReport{}, exitcode.New(exitcode.Running, "a machine named %s runs (its unit %s is %s), though no project %s is here\nStop it first (systemctl --user stop %s), or choose another name.",
			to, layout.Unit(to), st.ActiveState, to, layout.Unit(to))
	}
	j.Config = exists(l.ProjectConfig(from).Dir)
	j.Backups = exists(l.Backups(from))
	places := j.places(l)
	for _, p := range places[:2] {
		if p.carried && exists(p.to) {
			return MoveReport{}, &InTheWayError{What: p.what, From: p.from, To: p.to, Name: to}
		}
	}

	release := holdSignals()
	defer release()
	if err := j.write(l); err != nil {
		return MoveReport{}, &MoveFailedError{From: from, To: to, Err: err}
	}
	reached(MoveJournaled)
	// forward fails only before the project directory is renamed: what
	// follows that rename only tidies, and reports rather than fails.
	if err := j.forward(l, report); err != nil {
		if berr := j.backward(l); berr != nil {
			return MoveReport{}, j.unresolved(l, fmt.Errorf("%v; undoing it failed too: %v", err, berr))
		}
		return MoveReport{}, &MoveFailedError{From: from, To: to, Err: err}
	}
	j.forgetOldName(ctx, units, report)

	var r MoveReport
	for _, p := range places {
		switch {
		case p.carried:
			r.Moved = append(r.Moved, Moved{What: p.what, From: p.from, To: p.to})
		case exists(p.to):
			r.Adopted = append(r.Adopted, p.to)
		}
	}
	return r, nil
}

// place is one thing a move carries from one name to the other.
type place struct {
	what     string
	from, to string
	carried  bool // it existed when the move began
}

// places are the configuration, the backups and the project directory,
// in the order a move renames them.
func (j moveJournal) places(l layout.Layout) []place {
	return []place{
		{"configuration", l.ProjectConfig(j.From).Dir, l.ProjectConfig(j.To).Dir, j.Config},
		{"backups", l.Backups(j.From), l.Backups(j.To), j.Backups},
		{"project directory", l.Project(j.From).Dir, l.Project(j.To).Dir, true},
	}
}

// forward takes the move from wherever it is to its end; every step finds
// out whether it was done already, so that Recover can run it again.
// warn hears of failures after the project was renamed, which leave the
// move done; nil makes them errors, for Recover to report.
func (j moveJournal) forward(l layout.Layout, warn Reporter) error {
	fromDir, toDir := l.Project(j.From).Dir, l.Project(j.To).Dir
	if isDir(fromDir) {
		if err := sshx.CopyHostAlias(l.Project(j.From).KnownHosts, sshx.Alias(j.From), sshx.Alias(j.To)); err != nil {
			return fmt.Errorf("cannot pin the host key under the new name: %w", err)
		}
		reached(MoveHostKey)
	}
	places := j.places(l)
	for i, step := range []string{MoveConfig, MoveBackups} {
		if err := places[i].carry(); err != nil {
			return err
		}
		reached(step)
	}
	if j.Backups {
		if err := rewriteMarkers(l.Backups(j.To), j.From, j.To); err != nil {
			return err
		}
		reached(MoveMarkers)
	}
	// From the rename on the move has happened; what is left only tidies.
	after := func(err error) error {
		if err == nil || warn == nil {
			return err
		}
		warn("warning: the project is moved, but: %v", err)
		return nil
	}
	if isDir(fromDir) && !exists(toDir) {
		if err := renameNew(fromDir, toDir); err != nil {
			return err
		}
		if err := after(fsutil.SyncDir(l.Projects())); err != nil {
			return err
		}
		reached(MoveProject)
	}
	if err := after(sshx.DropHostAlias(l.Project(j.To).KnownHosts, sshx.Alias(j.From))); err != nil {
		return err
	}
	reached(MoveHostKeyDone)
	return after(j.remove(l))
}

// backward undoes a move whose project directory was not renamed.
func (j moveJournal) backward(l layout.Layout) error {
	places := j.places(l)
	if j.Backups {
		if err := rewriteMarkers(places[1].currentDir(), j.To, j.From); err != nil {
			return err
		}
	}
	for _, p := range places[:2] {
		if err := p.carryBack(); err != nil {
			return err
		}
	}
	if err := sshx.DropHostAlias(l.Project(j.From).KnownHosts, sshx.Alias(j.To)); err != nil {
		return err
	}
	return j.remove(l)
}

// forgetOldName clears what systemd remembers of the old name's unit (a
// failed state), so that it does not linger under a name no project has.
func (j moveJournal) forgetOldName(ctx context.Context, units Units, report Reporter) {
	if err := units.ResetFailed(ctx, layout.Unit(j.From)); err != nil {
		report("warning: %v", err)
	}
}

// carry renames a place to the new name unless that was done already.
func (p place) carry() error {
	if !p.carried {
		return nil
	}
	return shift(p.what, p.from, p.to)
}

func (p place) carryBack() error {
	if !p.carried {
		return nil
	}
	return shift(p.what, p.to, p.from)
}

// currentDir is where the place is now, for the markers of backups being
// carried back.
func (p place) currentDir() string {
	if exists(p.to) {
		return p.to
	}
	return p.from
}

func shift(what, from, to string) error {
	switch {
	case exists(to) && !exists(from):
		return nil
	case exists(from) && exists(to):
		return fmt.Errorf("the %s is in two places, %s and %s", what, from, to)
	case !exists(from):
		return fmt.Errorf("the %s is in neither %s nor %s", what, from, to)
	}
	if err := renameNew(from, to); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(to))
}

// rewriteMarkers makes the snapshots under dir that name project from name
// project to: virtdev-restore refuses a snapshot of another project.
func rewriteMarkers(dir, from, to string) error {
	markers, err := filepath.Glob(filepath.Join(dir, "*", "*", "project"))
	if err != nil {
		return err
	}
	for _, marker := range markers {
		id := filepath.ToSlash(strings.TrimPrefix(filepath.Dir(marker), dir+string(filepath.Separator)))
		if validate.SnapshotID(id) != nil {
			continue
		}
		data, err := os.ReadFile(marker)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(data)) != from {
			continue
		}
		info, err := os.Stat(marker)
		if err != nil {
			return err
		}
		if err := fsutil.WriteAtomic(marker, []byte(to+"\n"), info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
