package fsutil

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Clone copies src to dst, a file that must not exist yet, sharing the
// data blocks where the file system can (a reflink: btrfs, XFS, bcachefs),
// so that a large image is copied in an instant and takes no space until
// either copy is written to. Elsewhere it copies the data, as Copy does.
// shared reports whether the blocks are shared.
func Clone(src, dst string, perm fs.FileMode) (shared bool, err error) {
	in, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return false, err
	}
	err = unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
	if err == nil {
		return true, out.Close()
	}
	out.Close()
	if rerr := os.Remove(dst); rerr != nil {
		return false, errors.Join(err, rerr)
	}
	// Any failure of the clone (a file system without reflinks, two file
	// systems) leaves a plain copy to try, which tells a real failure.
	return false, Copy(src, dst, perm)
}
