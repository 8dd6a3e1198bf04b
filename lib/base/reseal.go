package base

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

// A reseal makes the images of the maintenance staging copy the sealed base,
// under a new generation, so that at every instant — a SIGKILL or a crash
// included — there is exactly one complete base, the old or the new one,
// and the next run of a program that recovers (Recover) leaves that one
// alone in system/.
//
// The new base is assembled beside system/ in the directory resealing,
// which holds the mark assembling until it is whole: its three images
// (moved there from the staging copy), its generation, every file mode
// 444, and the file system synced. Then one renameat2(RENAME_EXCHANGE)
// swaps it with system/ — the commit — and the old base, now in
// resealing, is removed. On a file system that cannot swap two
// directories, system/ is first renamed to retired and resealing to
// system/. Which of two whole bases is the new one, the generations tell:
// the new one is always the higher.
//
// Both names start with ".system-": they stand for system/ (nuke and
// people read them so), and no project name starts with a dot.
const (
	resealing  = ".system-resealing"
	retired    = ".system-retired"
	assembling = ".assembling"
)

// The steps of a reseal, in order, as the crash tests name them: a test
// makes reached kill the process after one of them.
const (
	ResealStarted   = "reseal-started"   // resealing made, marked as assembling
	ResealMoved     = "reseal-moved"     // one image moved from the staging copy (once per image)
	ResealNumbered  = "reseal-numbered"  // the new generation written
	ResealModes     = "reseal-modes"     // the images made read-only
	ResealAssembled = "reseal-assembled" // synced and unmarked: a whole base
	ResealRetired   = "reseal-retired"   // without a swap: system/ renamed to retired
	ResealCommitted = "reseal-committed" // system/ is the new base
	ResealDone      = "reseal-done"      // the old base removed
)

// reached is called after each step; tests replace it.
var reached = func(step string) {}

// exchange swaps two directories in one step; tests replace it to take
// the path of file systems that cannot.
var exchange = func(a, b string) error {
	return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
}

// ResealingError is a reseal that did not happen: the sealed base is the
// one that was there, and the staging copy has its images back.
type ResealingError struct{ Err error }

func (e *ResealingError) Error() string {
	return fmt.Sprintf("the base was not resealed: %v", e.Err)
}

func (e *ResealingError) Unwrap() error { return e.Err }

// OldBaseError is a reseal that happened but could not remove the old
// base, which takes space until someone does.
type OldBaseError struct {
	Path string
	Err  error
}

func (e *OldBaseError) Error() string {
	return fmt.Sprintf("the base is resealed, but the old one could not be removed: %v\nRemove it: rm -rf %s", e.Err, e.Path)
}

func (e *OldBaseError) Unwrap() error { return e.Err }

// Reseal makes the images of the staging copy (l.Staging()) the sealed base,
// as generation g, which must be above the sealed base's. The staging
// directory keeps whatever else it holds. Only a program that holds the
// base lock exclusively, and has run Recover, may call it.
//
// A *ResealingError means nothing changed: the images are back in the
// staging copy. An *OldBaseError means the base is resealed and only the
// removal of the old one failed.
func Reseal(l layout.Layout, g project.Generation) error {
	scratch := filepath.Join(l.Home, resealing)
	if err := assemble(l, scratch, g); err != nil {
		if _, uerr := undoAssembly(l, scratch); uerr != nil {
			err = fmt.Errorf("%w; %v", err, uerr)
		}
		return &ResealingError{err}
	}
	return commitReseal(l)
}

// assemble gathers the new base in scratch, whole.
func assemble(l layout.Layout, scratch string, g project.Generation) error {
	if err := os.Mkdir(scratch, 0o755); err != nil {
		return err
	}
	mark := filepath.Join(scratch, assembling)
	if err := fsutil.WriteAtomic(mark, nil, 0o600); err != nil {
		return err
	}
	reached(ResealStarted)
	for _, name := range baseNames(l.Staging()) {
		if err := os.Rename(filepath.Join(l.Staging().Dir, name), filepath.Join(scratch, name)); err != nil {
			return err
		}
		reached(ResealMoved)
	}
	generation := filepath.Join(scratch, filepath.Base(l.System().Generation))
	if err := fsutil.WriteAtomic(generation, []byte(g.String()+"\n"), SealedMode); err != nil {
		return err
	}
	reached(ResealNumbered)
	for _, name := range baseNames(l.Staging()) {
		if err := os.Chmod(filepath.Join(scratch, name), SealedMode); err != nil {
			return err
		}
	}
	reached(ResealModes)
	// The images' data reaches the disk before anything calls them a base.
	if err := syncFS(scratch); err != nil {
		return err
	}
	if err := os.Remove(mark); err != nil {
		return err
	}
	if err := fsutil.SyncDir(scratch); err != nil {
		return err
	}
	reached(ResealAssembled)
	return nil
}

func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// commitReseal swaps the whole new base in resealing with system/ and
// removes the old one.
func commitReseal(l layout.Layout) error {
	sys, scratch, old := l.System().Dir, filepath.Join(l.Home, resealing), filepath.Join(l.Home, retired)
	err := exchange(scratch, sys)
	switch {
	case err == nil:
		old = scratch
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		if err := os.Rename(sys, old); err != nil {
			return &ResealingError{undoOnError(l, scratch, err)}
		}
		reached(ResealRetired)
		if err := os.Rename(scratch, sys); err != nil {
			if rerr := os.Rename(old, sys); rerr != nil {
				return &ResealingError{fmt.Errorf("%w; the old base is in %s, and cannot go back: %v\nPut it back: mv %s %s", err, old, rerr, old, sys)}
			}
			return &ResealingError{undoOnError(l, scratch, err)}
		}
	default:
		return &ResealingError{undoOnError(l, scratch, err)}
	}
	// The new base is in place; the sync makes that survive a crash sooner.
	_ = fsutil.SyncDir(l.Home)
	reached(ResealCommitted)
	if err := os.RemoveAll(old); err != nil {
		return &OldBaseError{old, err}
	}
	reached(ResealDone)
	return nil
}

// undoOnError puts the images of a whole new base that did not get in
// place back into the staging copy, and adds what went wrong there to err.
func undoOnError(l layout.Layout, scratch string, err error) error {
	if _, uerr := undoAssembly(l, scratch); uerr != nil {
		return fmt.Errorf("%w; %v", err, uerr)
	}
	return err
}

// undoAssembly moves the images in scratch back into the staging copy,
// writable again, and removes scratch. It never replaces a file, and
// leaves scratch in place (named in the error) when an image cannot go
// back. It returns the names of the images it moved.
func undoAssembly(l layout.Layout, scratch string) ([]string, error) {
	writable := map[string]fs.FileMode{}
	for _, name := range baseNames(l.Staging()) {
		writable[name] = 0o644
	}
	moved, err := putBack(scratch, l.Staging(), writable)
	if err != nil {
		return moved, stagingLeft(scratch, err)
	}
	return moved, os.RemoveAll(scratch)
}

func stagingLeft(scratch string, err error) error {
	return fmt.Errorf("cannot put the maintained images back from %s: %w\nThey are still there; the sealed base is unchanged. Remove it when done: rm -rf %s", scratch, err, scratch)
}

// complete reports whether dir holds a whole sealed base: the three images
// and the generation, regular files of mode 444, the generation valid.
func complete(l layout.Layout, dir string) (project.Generation, bool) {
	generation := filepath.Base(l.System().Generation)
	for _, name := range append(baseNames(l.System()), generation) {
		info, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm() != SealedMode {
			return project.Generation{}, false
		}
	}
	g, err := project.ReadGeneration(filepath.Join(dir, generation), false)
	return g, err == nil
}

// recoverReseal puts right what a reseal killed on the way left behind,
// and says what it did. See the comment on the names above for the states
// it can find.
func recoverReseal(l layout.Layout) ([]string, error) {
	sys, scratch, old := l.System().Dir, filepath.Join(l.Home, resealing), filepath.Join(l.Home, retired)
	var done []string
	if exists(scratch) {
		what, err := settleScratch(l, sys, scratch)
		if err != nil {
			return done, err
		}
		done = append(done, what)
	}
	if exists(old) {
		if exists(sys) {
			if err := os.RemoveAll(old); err != nil {
				return done, &OldBaseError{old, err}
			}
			done = append(done, fmt.Sprintf("removed the old base %s, which an interrupted reseal had replaced", old))
		} else {
			if err := os.Rename(old, sys); err != nil {
				return done, fmt.Errorf("cannot put the base back from %s, where an interrupted reseal left it: %w\nPut it back: mv %s %s", old, err, old, sys)
			}
			done = append(done, fmt.Sprintf("put the base back from %s, where an interrupted reseal left it", old))
		}
	}
	return done, nil
}

// settleScratch finishes or undoes the reseal whose scratch directory is
// there, and says which.
func settleScratch(l layout.Layout, sys, scratch string) (string, error) {
	if exists(filepath.Join(scratch, assembling)) {
		// Not whole: the commit never came, and any base is the old one.
		if !exists(sys) && exists(filepath.Join(l.Home, retired)) {
			if err := os.Rename(filepath.Join(l.Home, retired), sys); err != nil {
				return "", err
			}
		}
		moved, err := undoAssembly(l, scratch)
		if err != nil {
			return "", err
		}
		what := fmt.Sprintf("undid the reseal an interrupted virtdev-maintain (or virtdev-upgrade) had begun: the base in %s is unchanged", sys)
		if len(moved) > 0 {
			what += fmt.Sprintf("; the maintained %s went back to %s (look at them, then remove it: rm -rf %s)",
				strings.Join(moved, ", "), l.Staging().Dir, l.Staging().Dir)
		}
		return what, nil
	}
	newer, whole := complete(l, scratch)
	current, sealed := complete(l, sys)
	switch {
	case !exists(sys) && whole:
		// Between the two renames of a file system that cannot swap.
		if err := os.Rename(scratch, sys); err != nil {
			return "", fmt.Errorf("cannot finish the reseal an interrupted reseal left in %s: %w", scratch, err)
		}
		if err := os.RemoveAll(filepath.Join(l.Home, retired)); err != nil {
			return "", &OldBaseError{filepath.Join(l.Home, retired), err}
		}
		return fmt.Sprintf("finished the reseal an interrupted reseal left: %s is the new base, generation %s", sys, newer), nil
	case sealed && (!whole || newer.Number < current.Number):
		// The old base after the swap, maybe half removed already.
		if err := os.RemoveAll(scratch); err != nil {
			return "", &OldBaseError{scratch, err}
		}
		return fmt.Sprintf("removed the old base %s, which an interrupted reseal had replaced with generation %s", scratch, current), nil
	case sealed && whole && newer.Number > current.Number:
		if err := commitReseal(l); err != nil {
			return "", err
		}
		return fmt.Sprintf("finished the reseal an interrupted reseal left: %s is the new base, generation %s", sys, newer), nil
	}
	return "", fmt.Errorf("an interrupted reseal left %s beside the base %s, and virtdev cannot tell which is the sealed base\nLook at both (their generation files), keep the right one as %s and remove the other", scratch, sys, sys)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// resealings are the directories an interrupted reseal left, for messages.
func resealings(l layout.Layout) []string {
	var found []string
	for _, name := range []string{resealing, retired} {
		if p := filepath.Join(l.Home, name); exists(p) {
			found = append(found, p)
		}
	}
	return found
}
