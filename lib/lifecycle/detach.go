package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"virtdev/lib/base"
	"virtdev/lib/fsutil"
	"virtdev/lib/image"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

// AlreadyDetachedError refuses to detach a detached project.
type AlreadyDetachedError struct{ Name string }

func (e *AlreadyDetachedError) Error() string {
	return fmt.Sprintf("project %q is already detached: its disks do not depend on the base\n"+
		"To attach it to the current base again, rebuild it: virtdev-recreate %s", e.Name, e.Name)
}

// OutdatedError refuses to detach a project derived from an earlier base:
// its deltas read through to the current base, which is not the one they
// were made over, so detaching would bake a mix of the two.
type OutdatedError struct {
	Name          string
	Project, Base project.Generation
}

func (e *OutdatedError) Error() string {
	return fmt.Sprintf("project %q was derived from base generation %s, but the base is now generation %s\n"+
		"Its disks only make sense over the base they were made over, which is gone; detaching would bake the wrong system into them.\n"+
		"Rebuild it on the current base (virtdev-recreate %s), then detach it.", e.Name, e.Project, e.Base, e.Name)
}

// GenerationError is a project whose generation file is missing or
// unreadable, so which base its disks belong to is unknown.
type GenerationError struct {
	Name string
	Err  error
}

func (e *GenerationError) Error() string {
	return fmt.Sprintf("project %q: %v\nWithout it, virtdev cannot tell whether the project's disks belong to the current base.\n"+
		"If they do, write the base's generation into it: virtdev-generation > \"$(virtdev-path %s generation)\"; otherwise rebuild it: virtdev-recreate %s",
		e.Name, e.Err, e.Name, e.Name)
}

func (e *GenerationError) Unwrap() error { return e.Err }

// CheckAttached makes sure a project's disks are deltas over the current
// sealed base, the only state detaching is right for.
func CheckAttached(l layout.Layout, name string) (project.Generation, error) {
	g, err := project.ReadGeneration(l.Project(name).Generation, true)
	if err != nil {
		return g, &GenerationError{Name: name, Err: err}
	}
	if g.Detached {
		return g, &AlreadyDetachedError{Name: name}
	}
	current, err := base.Sealed(l)
	if err != nil {
		return g, err
	}
	if current.Number != g.Number {
		return g, &OutdatedError{Name: name, Project: g, Base: current}
	}
	return g, nil
}

// DiskError is a disk that could not be made standalone, or whose result
// failed qemu-img check.
type DiskError struct {
	Disk    string // the project's disk
	Verify  bool   // the conversion ran, its result failed the check
	InPlace bool
	Err     error
}

func (e *DiskError) Error() string {
	what := "convert"
	switch {
	case e.Verify && e.InPlace:
		what = "verify the rebased"
	case e.Verify:
		what = "verify the standalone copy of"
	case e.InPlace:
		what = "rebase"
	}
	return fmt.Sprintf("cannot %s %s: %v", what, e.Disk, e.Err)
}

func (e *DiskError) Unwrap() error { return e.Err }

// DetachOptions are the choices of a detach.
type DetachOptions struct {
	InPlace bool
	// Progress hears how far each disk has got; nil for none. It is called
	// from one goroutine per disk.
	Progress func(disk string, percent float64)
}

// Detach turns a project's deltas into standalone images and records the
// generation "detached". The caller holds the base lock (shared) and the
// project's lock, has recovered the project, checked that its machine is
// stopped and that it is attached (CheckAttached).
//
// By default the standalone disks are written into a staging directory
// beside the project, with every other file of the project hard-linked in
// and the generation "detached", and the two directories are swapped in
// one rename: the project is attached or detached, never in between, and
// an interruption before the swap is undone by Recover. In place, each
// disk is rebased onto nothing (qemu-img rebase -b ""): no second copy,
// but no way back either.
func Detach(ctx context.Context, l layout.Layout, name string, o DetachOptions, report Reporter) error {
	if o.InPlace {
		return detachInPlace(ctx, l, name, o)
	}
	return detachByCopy(ctx, l, name, o, report)
}

type disk struct {
	label, path string
}

func disks(m layout.Machine) []disk {
	return []disk{{"system", m.SystemImage}, {"home", m.HomeImage}}
}

func (o DetachOptions) progress(d disk) image.Progress {
	if o.Progress == nil {
		return nil
	}
	return func(pct float64) { o.Progress(d.label, pct) }
}

func detachByCopy(ctx context.Context, l layout.Layout, name string, o DetachOptions, report Reporter) error {
	m := l.Project(name)
	staging := l.DetachStaging(name)
	info, err := os.Stat(m.Dir)
	if err != nil {
		return err
	}
	if err := os.Mkdir(staging, info.Mode().Perm()); err != nil {
		return err
	}
	undo := func(err error) error {
		if rerr := os.RemoveAll(staging); rerr != nil {
			return fmt.Errorf("%w\nThe unfinished copy %s could not be removed (%v); the next virtdev-detach, move or destroy of %s removes it", err, staging, rerr, name)
		}
		return err
	}
	// The two disks are independent: converted, checked and flushed at
	// once, they take the time of the larger one.
	convertCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	for _, d := range disks(m) {
		go func() {
			err := standalone(convertCtx, d, filepath.Join(staging, filepath.Base(d.path)), o.progress(d))
			if err != nil {
				cancel()
				if ctx.Err() != nil {
					err.Err = ctx.Err()
				}
				errs <- err
				return
			}
			errs <- nil
		}()
	}
	if err := firstError(<-errs, <-errs); err != nil {
		return undo(err)
	}
	reached(DetachConverted)
	if err := linkTree(m.Dir, staging, m.SystemImage, m.HomeImage, m.Generation); err != nil {
		return undo(err)
	}
	if err := fsutil.WriteAtomic(filepath.Join(staging, filepath.Base(m.Generation)), []byte(project.Detached+"\n"), modeOf(m.Generation, 0o644)); err != nil {
		return undo(err)
	}
	if err := fsutil.SyncDir(staging); err != nil {
		return undo(err)
	}
	reached(DetachStaged)

	release := holdSignals()
	old, err := swap(m.Dir, staging, l.DetachAttached(name))
	release()
	if err != nil {
		return undo(err)
	}
	reached(DetachSwapped)
	if err := os.RemoveAll(old); err != nil {
		return &LeftoverError{Path: old, Err: err}
	}
	return nil
}

// standalone writes the standalone copy of a disk, checks it, and makes
// it durable: qemu-img need not flush what it wrote, and the swap must not
// make disks the kernel has not written yet the project's only ones.
func standalone(ctx context.Context, d disk, dst string, progress image.Progress) *DiskError {
	if err := image.Flatten(ctx, d.path, dst, progress); err != nil {
		return &DiskError{Disk: d.path, Err: err}
	}
	if err := image.Check(ctx, dst); err != nil {
		return &DiskError{Disk: d.path, Verify: true, Err: err}
	}
	if err := syncFile(dst); err != nil {
		return &DiskError{Disk: d.path, Err: err}
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		// A disk whose conversion was stopped because the other one
		// failed says less than the one that failed.
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// swap puts the staging directory in the project's place in one step,
// and returns where the attached project is now. File systems that cannot
// exchange two names (RENAME_EXCHANGE) get two renames, with an instant
// between them in which the project has no directory (Recover finishes
// such a swap).
func swap(dir, staging, attached string) (string, error) {
	err := unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return staging, fsutil.SyncDir(filepath.Dir(dir))
	case !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS):
		return "", &os.LinkError{Op: "exchange", Old: staging, New: dir, Err: err}
	}
	if err := renameNew(dir, attached); err != nil {
		return "", err
	}
	if err := renameNew(staging, dir); err != nil {
		// Put the attached project back, so that undoing removes only
		// the staging copy.
		if berr := renameNew(attached, dir); berr != nil {
			return "", fmt.Errorf("%w; moving %s back to %s failed too: %v", err, attached, dir, berr)
		}
		return "", err
	}
	return attached, fsutil.SyncDir(filepath.Dir(dir))
}

// linkTree hard-links every file under src into dst, directories made
// anew, except the paths in skip.
func linkTree(src, dst string, skip ...string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, s := range skip {
			if path == s {
				return nil
			}
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.Mkdir(target, modeOf(path, 0o700))
		}
		return os.Link(path, target)
	})
}

func modeOf(path string, fallback fs.FileMode) fs.FileMode {
	if info, err := os.Lstat(path); err == nil {
		return info.Mode().Perm()
	}
	return fallback
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func detachInPlace(ctx context.Context, l layout.Layout, name string, o DetachOptions) error {
	m := l.Project(name)
	for _, d := range disks(m) {
		info, err := image.Inspect(ctx, d.path)
		if err != nil {
			return &DiskError{Disk: d.path, InPlace: true, Err: err}
		}
		if info.Format != "qcow2" {
			return &DiskError{Disk: d.path, InPlace: true, Err: fmt.Errorf("it is a %s image, not qcow2", info.Format)}
		}
		// A disk without a backing file was rebased by an earlier run
		// that did not get to the other one.
		if info.BackingFilename != "" {
			if err := image.Unbase(ctx, d.path, o.progress(d)); err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				return &DiskError{Disk: d.path, InPlace: true, Err: err}
			}
		}
		if d.path == m.SystemImage {
			reached(DetachRebased)
		}
	}
	for _, d := range disks(m) {
		if err := image.Check(ctx, d.path); err != nil {
			return &DiskError{Disk: d.path, InPlace: true, Verify: true, Err: err}
		}
		if err := syncFile(d.path); err != nil {
			return err
		}
	}
	return fsutil.WriteAtomic(m.Generation, []byte(project.Detached+"\n"), modeOf(m.Generation, 0o644))
}
