// Package delta makes projects from the sealed base: each project's
// machine is two thin qcow2 deltas over the base's images, made once per
// base by qemu-img and copied from a cache afterwards, with a private copy
// of the base's UEFI variables, its generation and the guest's SSH host
// key (Derive). It stays apart from package base, which the programs that
// only read the base's generation (list, stale) link, because qemu-img
// and the cache's checksums bring os/exec and crypto with them.
package delta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/validate"
)

// ErrExists means the project directory is already there.
var ErrExists = errors.New("project exists")

// KeyMaker makes a machine's SSH host key at private and pins its public
// half in knownHosts under the machine's alias: sshx.MakeHostKey. Derive
// is handed it rather than importing it, because the SSH client it comes
// with costs every program that links it a fifth of a millisecond as it
// starts, and virtdev-seal, which links this package, never makes a key.
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
