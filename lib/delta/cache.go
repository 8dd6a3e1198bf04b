package delta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
// base, kept in the cache with its checksums, and copied from there
// afterwards. A copy that does not match its checksum is discarded, and the
// cache entry made again; warn says so.
func makeDeltas(ctx context.Context, l layout.Layout, sys layout.Base, systemDst, homeDst string, warn func(string, ...any)) error {
	key, keyed := templateKey(sys)
	entry := filepath.Join(l.DeltaTemplates(), key)
	if keyed {
		err := copyTemplates(entry, systemDst, homeDst)
		if err == nil {
			return nil
		}
		var damaged *DamagedTemplateError
		if errors.As(err, &damaged) {
			warn("%v\nThe cache entry is made again with qemu-img.", err)
		}
	}
	if err := createDeltas(ctx, sys, systemDst, homeDst); err != nil {
		return err
	}
	if keyed {
		// Only a speed-up for the next project: a cache that cannot be
		// written costs nothing but time.
		_ = saveTemplates(l.DeltaTemplates(), entry, systemDst, homeDst)
	}
	return nil
}

// createDeltas runs qemu-img for both images at once: they do not depend
// on each other.
func createDeltas(ctx context.Context, sys layout.Base, systemDst, homeDst string) error {
	errs := make(chan error, 2)
	go func() { errs <- image.CreateDelta(ctx, systemDst, sys.SystemImage) }()
	go func() { errs <- image.CreateDelta(ctx, homeDst, sys.HomeImage) }()
	return errors.Join(<-errs, <-errs)
}

// Files of a cache entry. The checksums are in sha256sum's format, so that
// a person can check an entry with sha256sum -c.
const (
	systemTemplate = "system.qcow2"
	homeTemplate   = "home.qcow2"
	sumsFile       = "SHA256SUMS"
	// newPrefix names an entry being assembled; one that a killed program
	// left is removed with the templates of older bases.
	newPrefix = ".new-"
)

var templates = []string{systemTemplate, homeTemplate}

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

// DamagedTemplateError is a cached delta that does not match the checksum
// recorded when the cache entry was made.
type DamagedTemplateError struct {
	Path string
}

func (e *DamagedTemplateError) Error() string {
	return fmt.Sprintf("the cached empty delta %s is damaged (it does not match its checksum in %s)", e.Path, sumsFile)
}

// copyTemplates copies the entry's templates to systemDst and homeDst,
// checking each against its recorded checksum as it goes. On any failure
// nothing is left at the destinations.
func copyTemplates(entry, systemDst, homeDst string) (err error) {
	sums, err := readSums(filepath.Join(entry, sumsFile))
	if err != nil {
		return err
	}
	dsts := []string{systemDst, homeDst}
	defer func() {
		if err != nil {
			for _, dst := range dsts {
				os.Remove(dst)
			}
		}
	}()
	for i, name := range templates {
		src := filepath.Join(entry, name)
		sum, err := copySum(src, dsts[i])
		if err != nil {
			return err
		}
		if sum != sums[name] {
			return &DamagedTemplateError{Path: src}
		}
	}
	return nil
}

// copySum copies src to dst, a new file, and returns src's checksum.
func copySum(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(out, io.TeeReader(in, h))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readSums reads an entry's checksums. An entry without them (one being
// made, or from an older virtdev) is a miss; one whose checksums cannot be
// read is damaged.
func readSums(path string) (map[string]string, error) {
	data, _, err := fsutil.ReadPrefix(path, 1024)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		sum, name, _ := strings.Cut(line, "  ")
		sums[name] = sum
	}
	for _, name := range templates {
		if len(sums[name]) != sha256.Size*2 {
			return nil, &DamagedTemplateError{Path: filepath.Join(filepath.Dir(path), name)}
		}
	}
	return sums, nil
}

// saveTemplates keeps copies of a project's fresh deltas as the entry.
func saveTemplates(root, entry, systemSrc, homeSrc string) error {
	scratch, err := newEntry(root)
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	for i, src := range []string{systemSrc, homeSrc} {
		if err := fsutil.Copy(src, filepath.Join(scratch, templates[i]), 0o644); err != nil {
			return err
		}
	}
	_, err = commit(root, entry, scratch)
	return err
}

func newEntry(root string) (string, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(root, newPrefix)
}

// commit records the checksums of the templates in scratch and renames it
// into place as entry, removing the entries of older bases and those that
// killed programs left half made (which it returns), so that a reader
// never finds half an entry and the cache holds one base's.
func commit(root, entry, scratch string) (leftovers []string, err error) {
	var sums bytes.Buffer
	for _, name := range templates {
		f, err := os.Open(filepath.Join(scratch, name))
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&sums, "%x  %s\n", h.Sum(nil), name)
	}
	if err := fsutil.WriteAtomic(filepath.Join(scratch, sumsFile), sums.Bytes(), 0o644); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		old := filepath.Join(root, e.Name())
		if old == entry || old == scratch {
			continue
		}
		if os.RemoveAll(old) == nil && strings.HasPrefix(e.Name(), newPrefix) {
			leftovers = append(leftovers, old)
		}
	}
	// An entry already there is replaced: it may be damaged, or from a
	// virtdev that kept no checksums.
	if err := os.RemoveAll(entry); err != nil {
		return leftovers, err
	}
	return leftovers, os.Rename(scratch, entry)
}

// Warm makes the sealed base's empty deltas ahead of the first
// virtdev-create, so that every create, the first included, only copies.
// They are made in the cache itself, where whatever a killed seal leaves is
// found and removed by the next one; it returns such leftovers it removed.
func Warm(ctx context.Context, l layout.Layout) ([]string, error) {
	sys := l.System()
	key, keyed := templateKey(sys)
	if !keyed {
		return nil, fmt.Errorf("cannot read the sealed base's images in %s", sys.Dir)
	}
	root := l.DeltaTemplates()
	scratch, err := newEntry(root)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	if err := createDeltas(ctx, sys, filepath.Join(scratch, systemTemplate), filepath.Join(scratch, homeTemplate)); err != nil {
		return nil, err
	}
	return commit(root, filepath.Join(root, key), scratch)
}
