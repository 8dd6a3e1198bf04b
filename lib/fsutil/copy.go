package fsutil

import (
	"io"
	"io/fs"
	"os"
)

// Copy copies src to dst, a file that must not exist yet: every caller
// fills a fresh scratch directory, and finding a file there means
// something else is writing to it. The data is copied within the kernel
// (copy_file_range), not through this process.
func Copy(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}
