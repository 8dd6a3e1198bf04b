// Package base manages the sealed, read-only base every project derives
// from: sealing a fresh installation and deriving projects from it.
package base

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/validate"
)

// SealedMode is the mode of every sealed base file: a stray write from a
// program or a person must fail rather than corrupt every project's disks.
const SealedMode = 0o444

// Files are the files that make up a base, in the order they are checked.
func Files(b layout.Base) []string {
	return []string{b.SystemImage, b.HomeImage, b.NVRAM}
}

// MissingFile returns the first base file that is not a regular file.
func MissingFile(b layout.Base) (string, bool) {
	for _, f := range Files(b) {
		if info, err := os.Stat(f); err != nil || !info.Mode().IsRegular() {
			return f, true
		}
	}
	return "", false
}

// ErrExists means the project directory is already there.
var ErrExists = errors.New("project exists")

// KeyMaker makes a machine's SSH host key at private and pins its public
// half in knownHosts under the machine's alias: sshx.MakeHostKey. Derive
// is handed it rather than importing it, because the SSH client it comes
// with costs every program that links this package (the queries list,
// stale and generation among them) a fifth of a millisecond as it starts.
type KeyMaker func(private, knownHosts, name string) error

// Derive creates a project as two thin deltas over the sealed base, a
// private copy of its UEFI variables, the base's generation, and the
// guest's SSH host key (made by makeKey), pinned in the project's
// known_hosts before the guest ever boots. It builds in
// a hidden scratch directory renamed into place at the end, so a failure or
// an interrupt never leaves a half-made project behind.
//
// warn tells of a damaged cache entry, which is rebuilt.
func Derive(ctx context.Context, l layout.Layout, name string, g project.Generation, makeKey KeyMaker, warn func(format string, args ...any)) error {
	sys, m := l.System(), l.Project(name)
	if err := os.MkdirAll(l.Projects(), 0o755); err != nil {
		return homeOr(l, err)
	}
	scratch, err := os.MkdirTemp(l.Projects(), createPrefix+name+"-")
	if err != nil {
		return homeOr(l, err)
	}
	defer os.RemoveAll(scratch) // a no-op once renamed into place
	in := func(path string) string { return filepath.Join(scratch, filepath.Base(path)) }

	if err := makeDeltas(ctx, l, sys, in(m.SystemImage), in(m.HomeImage), warn); err != nil {
		return err
	}
	if err := fsutil.Copy(sys.NVRAM, in(m.NVRAM), 0o644); err != nil {
		return err
	}
	if err := project.WriteGeneration(in(m.Generation), g, 0o644); err != nil {
		return err
	}
	if err := makeKey(in(m.HostKey), in(m.KnownHosts), name); err != nil {
		return err
	}
	if err := os.Rename(scratch, m.Dir); err != nil {
		if _, statErr := os.Lstat(m.Dir); statErr == nil {
			return ErrExists
		}
		return err
	}
	return nil
}

// Sealed checks that the sealed base is there and whole, and returns its
// generation. Every program that relies on the base meets the same two
// conditions, with the shared codes: no sealed base (84), or a sealed base
// that is damaged (85) — a generation file that is missing or corrupt, or a
// base file that is not a regular file.
func Sealed(l layout.Layout) (project.Generation, error) {
	sys := l.System()
	_, err := os.Lstat(sys.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		fix := "Build and seal one: virtdev-bootstrap && virtdev-seal"
		if scratch := sealings(l); len(scratch) > 0 {
			fix = fmt.Sprintf("An interrupted virtdev-seal left its files in %s: run virtdev-seal to finish or undo it.", scratch[0])
		}
		if scratch := resealings(l); len(scratch) > 0 {
			fix = fmt.Sprintf("An interrupted reseal left %s: run virtdev-maintain (or virtdev-seal), which first puts the base in place.", strings.Join(scratch, " and "))
		}
		return project.Generation{}, exitcode.New(exitcode.NoBase, "no sealed base: %s does not exist\n%s", sys.Dir, fix)
	}
	if err != nil {
		if herr := project.CheckHome(l); herr != nil {
			return project.Generation{}, herr
		}
	}
	g, err := project.ReadGeneration(sys.Generation, false)
	if err != nil {
		return project.Generation{}, damaged(sys, err)
	}
	if missing, ok := MissingFile(sys); ok {
		return project.Generation{}, damaged(sys, fmt.Errorf("%s is missing or not a regular file", missing))
	}
	return g, nil
}

func damaged(sys layout.Base, err error) error {
	return &exitcode.Error{Code: exitcode.BaseDamaged, Err: err, Message: fmt.Sprintf(
		"the sealed base in %s is damaged: %v\nRestore the file from a backup, or rebuild the base (projects derived from it then need virtdev-recreate).", sys.Dir, err)}
}

// homeOr blames VIRTDEV_HOME or the projects directory for err when one of
// them is unusable, with the shared code, and otherwise returns err.
func homeOr(l layout.Layout, err error) error {
	if herr := project.CheckProjects(l); herr != nil {
		return herr
	}
	return err
}

// createPrefix starts the name of the scratch directory Derive assembles a
// project in: createPrefix, the project's name, '-' and something random.
// No project name starts with a dot, so no program takes it for a project.
const createPrefix = ".create-"

// SweepCreates removes the scratch directories that interrupted creates
// (killed, so they could not clean up) left in the projects directory, and
// returns them. The caller holds the lock of project name, so the scratch
// directories of that name are no one's; those of another project are
// removed only while its lock is free, that is while no create of it runs.
func SweepCreates(l layout.Layout, name, program string) ([]string, error) {
	entries, err := os.ReadDir(l.Projects())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, homeOr(l, err)
	}
	var removed []string
	for _, e := range entries {
		owner, ok := createOwner(e.Name())
		if !ok {
			continue
		}
		path := filepath.Join(l.Projects(), e.Name())
		swept, err := sweep(l, path, owner, owner != name, program)
		if err != nil {
			return removed, err
		}
		if swept {
			removed = append(removed, path)
		}
	}
	return removed, nil
}

// sweep removes one create's scratch directory, if its project's lock is
// free when lockIt says the caller does not hold it already.
func sweep(l layout.Layout, path, owner string, lockIt bool, program string) (bool, error) {
	if lockIt {
		held, err := lock.Project(l, owner, program)
		if err != nil {
			return false, nil // being created right now, or not ours to judge
		}
		defer held.Release()
	}
	if err := os.RemoveAll(path); err != nil {
		return false, fmt.Errorf("cannot remove %s, left by an interrupted virtdev-create: %w", path, err)
	}
	return true, nil
}

// createOwner is the project whose scratch directory a name is.
func createOwner(entry string) (string, bool) {
	rest, ok := strings.CutPrefix(entry, createPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 || !validate.IsProjectName(rest[:i]) {
		return "", false
	}
	return rest[:i], true
}
