package lock

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"

	"virtdev/lib/layout"
)

// A third lock, of another kind: a machine's supervisor holds the
// machine's up file (layout.Machine.Up) locked from the moment it has told
// systemd the machine is ready until it begins to stop, on a signal or
// when QEMU has ended. While it holds it, the machine's unit is active, as
// far as systemd's answer could say anything more: the supervisor is the
// unit's main process, so systemd has started the unit, and stops it only
// through the supervisor. virtdev-status learns that from one fcntl(2)
// instead of a round trip through the user bus to systemd and back, which
// was a fifth of its run.
//
// It is an open file description lock (F_OFD_SETLK), which ends with the
// supervisor's last descriptor of the file, at its death whatever kills
// it, and which QEMU does not inherit. Readers only test it (F_OFD_GETLK)
// and never take it, so no reader can hold up a supervisor.

// Up is a held up lock.
type Up struct{ file *os.File }

// HoldUp takes the up lock of machine m, for its supervisor.
func HoldUp(m layout.Machine) (*Up, error) {
	f, err := os.OpenFile(m.Up, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK} // from 0, length 0: the whole file
	if err := fcntlLock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "lock", Path: m.Up, Err: err}
	}
	return &Up{file: f}, nil
}

// Release says the machine is no longer up. The file stays until the
// machine's runtime files are removed; without the lock it means nothing.
func (u *Up) Release() {
	if u != nil && u.file != nil {
		u.file.Close()
		u.file = nil
	}
}

// IsUp reports whether the supervisor of machine m holds its up lock. It
// is false whenever that cannot be told (no file, an error), for the
// caller to ask systemd instead.
func IsUp(m layout.Machine) bool {
	fd, err := unix.Open(m.Up, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	lk := unix.Flock_t{Type: unix.F_RDLCK}
	return fcntlLock(uintptr(fd), unix.F_OFD_GETLK, &lk) == nil && lk.Type == unix.F_WRLCK
}

func fcntlLock(fd uintptr, cmd int, lk *unix.Flock_t) error {
	for {
		err := unix.FcntlFlock(fd, cmd, lk)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
