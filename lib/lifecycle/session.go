package lifecycle

import (
	"context"
	"slices"

	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/unit"
)

// Session is a lifecycle program's hold on its projects: the locks, taken
// in order, and the user manager, which knows whether their machines run.
type Session struct {
	Locks Locks
	Units *unit.Manager
	base  *lock.Lock
}

// Want is what a lifecycle program takes up.
type Want struct {
	Project string   // the project it works on, which must exist
	Others  []string // other names it changes (the new name of a move)
	// Base holds the base lock shared: the program reads through the
	// project's deltas to the base, which must not change meanwhile.
	Base bool
}

// Begin takes up a project: it locks the names (the base first, when
// wanted, then LockProjects), reaches the user manager, and finishes or
// undoes whatever operation on them was cut short (Recover). A project
// that does not exist, with nothing pending for it, is refused before any
// lock file is made for its name.
func Begin(ctx context.Context, l layout.Layout, program string, w Want, report Reporter) (*Session, error) {
	names := append([]string{w.Project}, w.Others...)
	if !slices.ContainsFunc(names, func(n string) bool { return Pending(l, n) }) {
		if _, err := project.Find(l, w.Project); err != nil {
			return nil, err
		}
	}
	s := &Session{}
	if w.Base {
		base, err := lock.Base(l, program, lock.Shared)
		if err != nil {
			return nil, err
		}
		s.base = base
	}
	locks, err := LockProjects(l, program, names...)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Locks = locks
	if s.Units, err = unit.Connect(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := Recover(ctx, l, s.Units, names, report); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close lets the projects go.
func (s *Session) Close() {
	if s.Units != nil {
		s.Units.Close()
	}
	s.Locks.Release()
	s.base.Release()
}
