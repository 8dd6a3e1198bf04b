// Package unixsock reaches a Unix socket whatever the length of its path.
//
// A socket address holds at most MaxPath bytes of path, so a socket deep in
// a long VIRTDEV_HOME, or in the directory of a project with a long name,
// cannot be reached by its path. virtdev's machines never need that: QEMU
// binds its sockets by names relative to its working directory, the
// machine's directory, and clients reach them through an open descriptor
// of that directory, as /proc/self/fd/N/<name>, which is short whatever
// the directory's path.
//
// Every client of a machine's sockets dials through this package. It does
// not use package net, whose start-up the programs that only look at
// machines (status, list) would otherwise pay on every run: see Exchange.
package unixsock

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// MaxPath is the longest path a socket address holds: sun_path has 108
// bytes, the last for the terminating NUL.
const MaxPath = 107

// Do calls fn with an address connect(2) accepts for the socket at path:
// the path itself when it fits, else a short one through a descriptor of
// its directory, which stays open until fn returns. It serves libraries
// that dial by address themselves; their errors name the short alias,
// which the caller may want to replace with path.
func Do(path string, fn func(addr string) error) error {
	if len(path) <= MaxPath {
		return fn(path)
	}
	dir, name := filepath.Split(path)
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	addr := "/proc/self/fd/" + strconv.Itoa(fd) + "/" + name
	if len(addr) > MaxPath {
		return fmt.Errorf("cannot reach the socket %s: even its name %q is longer than a socket address allows", path, name)
	}
	return fn(addr)
}

// connect returns a non-blocking stream socket connected to path. A
// failure of connect(2) is an *os.PathError naming path; EAGAIN in it
// means the socket's queue of connections waiting to be accepted is full.
// (A Unix socket's connect completes at once or fails: it never returns
// EINPROGRESS, as a TCP socket's does.)
func connect(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	err = Do(path, func(addr string) error {
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
			return &os.PathError{Op: "connect", Path: path, Err: err}
		}
		return nil
	})
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Open connects to the socket at path, as a file whose reads and writes
// wait as a network connection's do, and whose Close, from any goroutine,
// ends them.
func Open(path string) (*os.File, error) {
	fd, err := connect(path)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}
