package fsutil

import (
	"io/fs"
	"strconv"
	"syscall"
	"unicode/utf8"
)

// ReadPrefix reads at most max bytes of a small file (a port or generation
// file) with three system calls. Query programs read such a file per
// project, and os.ReadFile spends several more on each (size probe, poller
// registration and its undoing, a read to find the end), which dominated
// their run time. A read of a regular file returns less than asked only at
// its end, so a file longer than max bytes is reported as truncated.
func ReadPrefix(path string, max int) (data []byte, truncated bool, err error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	buf := make([]byte, max+1)
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, false, &fs.PathError{Op: "read", Path: path, Err: err}
		case n > max:
			return buf[:max], true, nil
		}
		return buf[:n], false, nil
	}
}

// Absent is sentinel (ErrNoGeneration, ErrNoShutdown, …) for the file at
// path, which does not exist; its message is "sentinel: path". It is
// formatted only when printed: list looks for several such files in every
// project, most of them absent, and formatting each absence cost it more
// than looking.
func Absent(sentinel error, path string) error { return &absent{sentinel, path} }

type absent struct {
	sentinel error
	path     string
}

func (e *absent) Error() string { return e.sentinel.Error() + ": " + e.path }
func (e *absent) Unwrap() error { return e.sentinel }

// excerptLength bounds what a message quotes of a file's content: enough to
// recognise it, never megabytes of escaped bytes on a terminal.
const excerptLength = 40

// Excerpt quotes the start of a file's content for a message, Go-quoted,
// with an ellipsis when there was more.
func Excerpt(content []byte, truncated bool) string {
	if len(content) > excerptLength {
		content, truncated = content[:excerptLength], true
		for len(content) > 0 && !utf8.Valid(content) {
			content = content[:len(content)-1]
		}
	}
	q := strconv.Quote(string(content))
	if truncated {
		q += "…"
	}
	return q
}
