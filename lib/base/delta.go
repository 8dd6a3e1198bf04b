package base

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"virtdev/lib/fsutil"
	"virtdev/lib/image"
	"virtdev/lib/layout"
)

// makeDeltas writes empty deltas over the base's system and home images to
// systemDst and homeDst.
//
// An empty delta depends only on the image it points at: qemu-img writes the
// same bytes for every project. Its start-up, tens of milliseconds, would
// dominate virtdev-create, so the pair is made by qemu-img once per sealed
// base, kept in the cache, and copied from there afterwards.
func makeDeltas(ctx context.Context, l layout.Layout, sys layout.Base, systemDst, homeDst string) error {
	key, keyed := templateKey(sys)
	cached := filepath.Join(l.DeltaTemplates(), key)
	if keyed && copyTemplates(cached, systemDst, homeDst) == nil {
		return nil
	}
	// The two images do not depend on each other, so they are made at once.
	errs := make(chan error, 2)
	go func() { errs <- image.CreateDelta(ctx, systemDst, sys.SystemImage) }()
	go func() { errs <- image.CreateDelta(ctx, homeDst, sys.HomeImage) }()
	if err := errors.Join(<-errs, <-errs); err != nil {
		return err
	}
	if keyed {
		// Only a speed-up for the next project: a cache that cannot be
		// written costs nothing but time.
		_ = saveTemplates(l.DeltaTemplates(), cached, systemDst, homeDst)
	}
	return nil
}

const (
	systemTemplate = "system.qcow2"
	homeTemplate   = "home.qcow2"
)

// templateKey names the base images' exact files: a reseal or a rebuild
// writes new files (another inode, size or time), so a stale template is
// never found.
func templateKey(sys layout.Base) (string, bool) {
	h := sha256.New()
	for _, path := range []string{sys.SystemImage, sys.HomeImage} {
		info, err := os.Stat(path)
		if err != nil {
			return "", false
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return "", false
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\x00%d\x00", path, st.Dev, st.Ino, info.Size(), info.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:32], true
}

func copyTemplates(dir, systemDst, homeDst string) error {
	if err := fsutil.Copy(filepath.Join(dir, systemTemplate), systemDst, 0o644); err != nil {
		return err
	}
	return fsutil.Copy(filepath.Join(dir, homeTemplate), homeDst, 0o644)
}

// saveTemplates keeps the pair under dir, replacing the templates of older
// bases. The pair is assembled beside dir and renamed into place, so a
// reader never finds half of it.
func saveTemplates(root, dir, systemSrc, homeSrc string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(root, ".new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := fsutil.Copy(systemSrc, filepath.Join(scratch, systemTemplate), 0o644); err != nil {
		return err
	}
	if err := fsutil.Copy(homeSrc, filepath.Join(scratch, homeTemplate), 0o644); err != nil {
		return err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if stale := filepath.Join(root, e.Name()); stale != dir && stale != scratch {
			os.RemoveAll(stale)
		}
	}
	return os.Rename(scratch, dir)
}

// WarmDeltas makes the sealed base's empty deltas ahead of the first
// virtdev-create, so that every create, the first included, only copies.
func WarmDeltas(ctx context.Context, l layout.Layout) error {
	scratch, err := os.MkdirTemp("", "virtdev-deltas-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	return makeDeltas(ctx, l, l.System(), filepath.Join(scratch, systemTemplate), filepath.Join(scratch, homeTemplate))
}
