package unixsock

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// longDir makes a directory whose path is far beyond what a socket
// address holds.
func longDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for len(dir) < 2*MaxPath {
		dir = filepath.Join(dir, strings.Repeat("d", 50))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// bind listens at path the way QEMU does in a machine directory: by a
// name relative to the directory, here reached through Do.
func bind(t *testing.T, path string) net.Listener {
	t.Helper()
	var l net.Listener
	err := Do(path, func(addr string) error {
		var err error
		l, err = net.Listen("unix", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// accept serves every connection to l with serve, each on a goroutine of
// its own, until l is closed.
func accept(l net.Listener, serve func(net.Conn)) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
}

// listen binds a socket at path that greets each client and hangs up.
func listen(t *testing.T, path string) {
	t.Helper()
	accept(bind(t, path), func(c net.Conn) {
		c.Write([]byte("hello"))
		c.Close()
	})
}

func TestOpenLongPath(t *testing.T) {
	path := filepath.Join(longDir(t), "monitor.sock")
	if len(path) <= MaxPath {
		t.Fatalf("the test path is only %d bytes", len(path))
	}
	listen(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the socket is not where it was bound: %v", err)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 5)
	if _, err := c.Read(buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

func TestOpenShortPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	listen(t, path)
	var seen string
	Do(path, func(addr string) error { seen = addr; return nil })
	if seen != path {
		t.Errorf("a short path was dialled as %q", seen)
	}
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestOpenMissingSocketNamesThePath(t *testing.T) {
	path := filepath.Join(longDir(t), "gone.sock")
	_, err := Open(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "/proc/self/fd") {
		t.Errorf("the message does not name the socket as the caller knows it: %v", err)
	}
}
