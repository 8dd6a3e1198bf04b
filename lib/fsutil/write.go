// Package fsutil holds the file operations several packages need done the
// same careful way.
package fsutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteAtomic replaces path in one step: a reader sees the old content or
// the new, never a half-written file, and a failure leaves the old file as
// it was. The data goes to a temporary file beside path, synced, renamed
// over it, and the directory synced, so that after a crash the file holds
// the old content or the new, never nothing. The temporary name is unique,
// so two writers never share one.
func WriteAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+TempMarker+"*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// TempMarker is in the name of every temporary file WriteAtomic makes, so
// that one left by a killed program can be recognised and removed.
const TempMarker = ".tmp-"

// SyncDir makes a directory's entries (a rename, a new file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
