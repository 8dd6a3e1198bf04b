// Package base manages the sealed, read-only base every project derives
// from: sealing a fresh installation, resealing it after maintenance, and
// telling whether it is there and whole (Sealed). Deriving projects from
// it is package delta's.
package base

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
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
