// Package lock keeps virtdev programs that change the same thing from
// running at once, while programs that change different things run side by
// side.
//
// There are two kinds of lock, both flock(2) and never waited for: a second
// program fails at once with exit 75 and learns who holds the lock.
//
//   - The base lock, $VIRTDEV_HOME/lock. Programs that change the base
//     (bootstrap, seal, maintain, nuke) hold it exclusively; programs that
//     rely on the base staying as it is (create, start's generation check,
//     recreate) hold it shared, so any number of them run at once.
//   - One lock per project, $VIRTDEV_HOME/locks/<project>, held exclusively
//     by every program that changes the project or its machine. It lives
//     beside the project directory, never inside it, so that destroy and
//     move do not remove or rename a lock while it is held.
//
// Locks are always taken base first, then projects in name order.
//
// An exclusive holder writes its PID and program into the lock file through
// the locked descriptor, so that `cat $VIRTDEV_HOME/lock` names it. A loser
// names the holders from the kernel's own table of locks (/proc/locks),
// which cannot be stale, and falls back to the file.
package lock

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
)

// Mode is how a lock is held.
type Mode int

const (
	Shared Mode = iota
	Exclusive
)

// Lock is held until Release or the end of the process.
type Lock struct {
	file *os.File
}

// Release gives the lock up early. The PID stays in the file, which is
// harmless: only a held flock means anything.
func (l *Lock) Release() {
	if l != nil && l.file != nil {
		l.file.Close()
		l.file = nil
	}
}

// MaintainProgram is the holder that gets its own contention message: while
// it runs, the base itself is being changed.
const MaintainProgram = "virtdev-maintain"

// Base takes the base lock for program (its name, e.g. virtdev-seal).
func Base(l layout.Layout, program string, mode Mode) (*Lock, error) {
	if err := checkHome(l); err != nil {
		return nil, err
	}
	lk, holders, err := take(l.Lock(), mode)
	if err != nil {
		return nil, err
	}
	if lk == nil {
		return nil, baseContention(l.Lock(), program, mode, holders)
	}
	return lk, nil
}

// Project takes the lock of one project, exclusively.
func Project(l layout.Layout, name, program string) (*Lock, error) {
	if err := checkHome(l); err != nil {
		return nil, err
	}
	path := l.ProjectLock(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, homeUnusable(l, err)
	}
	lk, holders, err := take(path, Exclusive)
	if err != nil {
		return nil, err
	}
	if lk == nil {
		return nil, exitcode.New(exitcode.Locked,
			"project %q is busy: %s holds its lock\nLock file: %s\nRetry when it has finished.", name, describe(holders), path)
	}
	return lk, nil
}

// Ports serialises the choice of SSH ports among concurrent starts: held
// from the choice until the chosen port is written down, a few
// milliseconds, so it is waited for rather than refused.
func Ports(l layout.Layout) (*Lock, error) {
	path := l.PortsLock()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, homeUnusable(l, err)
	}
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	if err := flock(f, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, exitcode.Wrap(exitcode.HomeUnusable, err, "cannot lock %s", path)
	}
	return &Lock{file: f}, nil
}

// checkHome makes VIRTDEV_HOME if it is missing and refuses one that is not
// a directory this user can use.
func checkHome(l layout.Layout) error {
	if err := os.MkdirAll(l.Home, 0o700); err != nil {
		return homeUnusable(l, err)
	}
	if err := unix.Access(l.Home, unix.R_OK|unix.W_OK|unix.X_OK); err != nil {
		return homeUnusable(l, &fs.PathError{Op: "access", Path: l.Home, Err: err})
	}
	return nil
}

func homeUnusable(l layout.Layout, err error) error {
	return exitcode.Wrap(exitcode.HomeUnusable, err,
		"VIRTDEV_HOME %s cannot be used (it must be a directory you can read and write)", l.Home)
}

// open opens a lock file without following a symbolic link: a link planted
// there must not make a holder write its PID into the file it points to.
func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, exitcode.New(exitcode.HomeUnusable, "the lock file %s is a symbolic link; virtdev refuses to follow it\nLook at it, then remove it: rm %s", path, path)
		}
		return nil, exitcode.Wrap(exitcode.HomeUnusable, err, "cannot open the lock file %s", path)
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("it is not a regular file (%s)", info.Mode().Type())
	}
	if err != nil {
		f.Close()
		return nil, exitcode.Wrap(exitcode.HomeUnusable, err, "cannot use the lock file %s", path)
	}
	return f, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// take tries the lock once. A nil Lock with a nil error means someone else
// holds it; holders then names them.
func take(path string, mode Mode) (*Lock, []holder, error) {
	f, err := open(path)
	if err != nil {
		return nil, nil, err
	}
	how := unix.LOCK_SH
	if mode == Exclusive {
		how = unix.LOCK_EX
	}
	if err := flock(f, how|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, holders(f), nil
		}
		return nil, nil, exitcode.Wrap(exitcode.HomeUnusable, err, "cannot lock %s", path)
	}
	if mode == Exclusive {
		// Through the locked descriptor: no other open, no window in which
		// another program could find the file half written by us.
		record := []byte(strconv.Itoa(os.Getpid()) + " " + programName() + "\n")
		if err := f.Truncate(0); err == nil {
			f.WriteAt(record, 0)
		}
	}
	return &Lock{file: f}, nil, nil
}

func programName() string { return filepath.Base(os.Args[0]) }

// holder is a process holding a lock, as the kernel reports it.
type holder struct {
	pid     int
	program string // from its command line; empty if it cannot be read
}

// holders names the processes holding a lock on f's file: from /proc/locks,
// else from what an exclusive holder wrote into the file.
func holders(f *os.File) []holder {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil
	}
	self := os.Getpid()
	var found []holder
	for _, pid := range lockingPIDs(st) {
		if pid != self && !slices.ContainsFunc(found, func(h holder) bool { return h.pid == pid }) {
			found = append(found, holder{pid: pid, program: commandOf(pid)})
		}
	}
	if len(found) > 0 {
		return found
	}
	data := make([]byte, 256)
	n, _ := f.ReadAt(data, 0)
	pidText, _, _ := strings.Cut(strings.TrimSpace(string(data[:n])), " ")
	if pid, err := strconv.Atoi(pidText); err == nil {
		return []holder{{pid: pid, program: commandOf(pid)}}
	}
	return nil
}

// lockingPIDs reads the kernel's lock table for flocks on the file st
// describes. A line reads, for instance:
//
//	3: FLOCK  ADVISORY  WRITE 1234 fe:01:5374 0 EOF
func lockingPIDs(st unix.Stat_t) []int {
	table, err := os.Open("/proc/locks")
	if err != nil {
		return nil
	}
	defer table.Close()
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	var pids []int
	scan := bufio.NewScanner(table)
	for scan.Scan() {
		fields := strings.Fields(scan.Text())
		// Blocked waiters are listed with a "->" marker before the kind.
		if len(fields) > 1 && fields[1] == "->" {
			continue
		}
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// commandOf is the program a process runs, from its command line.
func commandOf(pid int) string {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(bytes.ReplaceAll(raw, []byte{0}, []byte{' '})))
}

// describe names the holders for a message: "virtdev-seal (PID 123)".
func describe(hs []holder) string {
	if len(hs) == 0 {
		return "another virtdev program (PID unknown)"
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		name := "a process that has ended since"
		if h.program != "" {
			fields := strings.Fields(h.program)
			name = filepath.Base(fields[0])
			if len(fields) > 1 {
				name += " " + strings.Join(fields[1:], " ")
			}
		}
		parts[i] = fmt.Sprintf("%s (PID %d)", name, h.pid)
	}
	return strings.Join(parts, ", ")
}

func baseContention(path, program string, mode Mode, hs []holder) error {
	maintaining := slices.ContainsFunc(hs, func(h holder) bool { return strings.Contains(h.program, MaintainProgram) })
	switch {
	case maintaining && program == MaintainProgram:
		return exitcode.New(exitcode.Locked,
			"another virtdev-maintain is already running: %s\nLock file: %s\nWait for it to finish, or look at its machine: systemctl --user status %s",
			describe(hs), path, layout.Unit(layout.Maintenance))
	case maintaining:
		return exitcode.New(exitcode.Locked,
			"base maintenance is in progress: %s\nLock file: %s\nRetry when it has resealed the base; watch it with: systemctl --user status %s",
			describe(hs), path, layout.Unit(layout.Maintenance))
	case mode == Exclusive:
		return exitcode.New(exitcode.Locked,
			"%s needs the base to itself, but %s relies on it or changes it\nLock file: %s\nRetry when it has finished.",
			program, describe(hs), path)
	}
	return exitcode.New(exitcode.Locked,
		"the base is being changed by %s\nLock file: %s\nRetry when it has finished.", describe(hs), path)
}
