// Package lifecycle changes what a project is: destroys it, renames it
// (move), detaches its disks from the base, or removes everything virtdev
// keeps (nuke).
//
// Each operation either completes or leaves a state that the next
// lifecycle program given the same name finishes or undoes, and reports
// (see Recover). At every instant the project is whole under exactly one
// name, so that programs that know nothing of this (start, ssh, list) find
// either the project as it was or the project as it is to be:
//
//   - destroy renames the project directory to a hidden trash name, then
//     removes that: the project is gone in one step.
//   - detach builds the detached project beside the attached one and swaps
//     the two directories in one step (renameat2 RENAME_EXCHANGE).
//   - move writes a journal naming both names before it moves anything,
//     and moves the project directory last: the directory's name says
//     whether the move took place.
//
// The steps can be interrupted on purpose, for tests: with
// VIRTDEV_TEST_CRASH_AT=<step> in the environment, the program kills
// itself with SIGKILL right after that step (Steps lists them).
package lifecycle

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/unit"
)

// Units is what the operations ask of the systemd user manager.
type Units interface {
	Status(ctx context.Context, unit string) (unit.Status, error)
	ResetFailed(ctx context.Context, unit string) error
}

// CheckStopped refuses a machine that runs: its unit is active (exit 7),
// or its port file claims so although the unit is not running (exit 5: a
// machine that crashed, or a host that rebooted, left the file behind).
func CheckStopped(ctx context.Context, units Units, m layout.Machine) error {
	name := layout.Unit(m.Name)
	st, err := units.Status(ctx, name)
	if err != nil {
		return exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether %s runs", m.Name)
	}
	if st.Running() {
		return exitcode.New(exitcode.Running, "%s is running (its unit %s is %s)\nStop it first: virtdev-stop %s",
			m.Name, name, st.ActiveState, m.Name)
	}
	if _, err := os.Lstat(m.Port); err == nil {
		return exitcode.New(exitcode.StalePort,
			"%s has a port file, %s, but its unit %s is %s: the file outlived the machine (a crash, or a host reboot)\n"+
				"Make sure no QEMU of it is left (systemctl --user status %s), then remove the file: rm %s",
			m.Name, m.Port, name, st.ActiveState, name, m.Port)
	}
	return nil
}

// CrashVariable names the step after which a test wants the program killed.
const CrashVariable = "VIRTDEV_TEST_CRASH_AT"

// The steps of the operations, in order, as CrashVariable names them.
const (
	DestroyTrashed = "destroy-trashed" // the directory renamed to its trash name

	MoveJournaled   = "move-journaled"    // the journal written
	MoveHostKey     = "move-host-key"     // the host key pinned under both names
	MoveConfig      = "move-config"       // the configuration directory renamed
	MoveBackups     = "move-backups"      // the backups directory renamed
	MoveMarkers     = "move-markers"      // the snapshots' project markers rewritten
	MoveProject     = "move-project"      // the project directory renamed: the move took place
	MoveHostKeyDone = "move-host-key-old" // the old name's host key entries removed

	DetachConverted = "detach-converted" // both disks converted into the staging directory
	DetachStaged    = "detach-staged"    // the staging directory complete and synced
	DetachSwapped   = "detach-swapped"   // the staging and project directories swapped
	DetachRebased   = "detach-rebased"   // --in-place: the system disk rebased
)

// Steps are every operation's steps, in order.
var Steps = map[string][]string{
	"destroy":           {DestroyTrashed},
	"move":              {MoveJournaled, MoveHostKey, MoveConfig, MoveBackups, MoveMarkers, MoveProject, MoveHostKeyDone},
	"detach":            {DetachConverted, DetachStaged, DetachSwapped},
	"detach --in-place": {DetachRebased},
}

// reached is called after each step; a test may have asked to be killed
// there.
func reached(step string) {
	if os.Getenv(CrashVariable) == step {
		unix.Kill(os.Getpid(), unix.SIGKILL)
		select {} // SIGKILL cannot be caught; this is never passed
	}
}

// holdSignals keeps SIGINT, SIGTERM and SIGHUP from ending the program
// during a few renames that belong together; the frame's context still
// hears them, so the program winds down as soon as they are done.
func holdSignals() (release func()) {
	held := make(chan os.Signal, 1)
	signal.Notify(held, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	return func() { signal.Stop(held) }
}

// renameNew renames without replacing anything at the destination: a
// plain rename would silently replace an empty directory there.
func renameNew(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// A file system without RENAME_NOREPLACE: the check and the
		// rename are two steps, which the locks held make safe enough.
		if _, err := os.Lstat(to); err == nil {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
		}
		return os.Rename(from, to)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// exists tells whether anything is at path (a dangling symbolic link
// included).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// isDir tells whether path is a real directory, not a link to one.
func isDir(path string) bool {
	info, err := os.Lstat(path)
	return err == nil && info.IsDir()
}

// sortedUnique is names in order, each once: the order locks are taken in.
func sortedUnique(names []string) []string {
	names = slices.Clone(names)
	slices.Sort(names)
	return slices.Compact(names)
}

// Pending tells whether an interrupted operation left anything for name
// that Recover would finish or undo.
func Pending(l layout.Layout, name string) bool {
	for _, p := range []string{l.DestroyTrash(name), l.DetachStaging(name), l.DetachAttached(name)} {
		if exists(p) {
			return true
		}
	}
	all, err := journals(l)
	return err != nil || len(touching(all, []string{name})) > 0
}
