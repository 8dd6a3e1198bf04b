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
// Every client of a machine's sockets dials through this package.
package unixsock

import (
	"context"
	"errors"
	"fmt"
	"net"
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
// that dial by address themselves. A *net.OpError from fn names path, not
// the short alias.
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
	err = fn(addr)
	var op *net.OpError
	if errors.As(err, &op) {
		named := *op
		named.Addr = &net.UnixAddr{Name: path, Net: "unix"}
		return &named
	}
	return err
}

// Dial connects to the socket at path.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var conn net.Conn
	err := Do(path, func(addr string) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", addr)
		conn = c
		return err
	})
	return conn, err
}
