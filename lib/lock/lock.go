// Package lock serialises the programs that change virtdev's state.
//
// One exclusive flock(2) on $VIRTDEV_HOME/lock, never waited for: a second
// program fails at once with exit 75 and learns who holds the lock. The
// holder writes its PID into the file so people (cat lock) and the loser
// can name it.
package lock

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
)

// Lock is held until Release or the end of the process.
type Lock struct {
	file *flock.Flock
}

// Release gives the lock up early; the PID stays in the file, which is
// harmless because only a held flock means anything.
func (l *Lock) Release() {
	if l != nil {
		l.file.Unlock()
	}
}

// maintainProgram is the holder that gets its own contention message: while
// it runs, the base itself is being changed.
const maintainProgram = "virtdev-maintain"

// Acquire takes the lock for program (its name, e.g. virtdev-start).
func Acquire(l layout.Layout, program string) (*Lock, error) {
	if err := os.MkdirAll(l.Home, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", l.Home, err)
	}
	path := l.Lock()
	// Opened without O_TRUNC: the loser must still read the holder's PID.
	file := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	held, err := file.TryLock()
	if err != nil {
		return nil, fmt.Errorf("cannot lock %s: %w", path, err)
	}
	if !held {
		return nil, contention(path, program)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		file.Unlock()
		return nil, fmt.Errorf("cannot record the lock holder in %s: %w", path, err)
	}
	return &Lock{file: file}, nil
}

func contention(path, program string) error {
	pid, cmdline := holder(path)
	holderIsMaintain := strings.Contains(cmdline, maintainProgram)
	shownPID := pid
	if shownPID == "" {
		shownPID = "unknown"
	}
	switch {
	case holderIsMaintain && program == maintainProgram:
		return exitcode.New(exitcode.Locked,
			"another virtdev-maintain is already running (PID %s)\nLock file: %s\nWait for it to finish, or look at its machine: systemctl --user status %s",
			shownPID, path, layout.Unit(layout.Maintenance))
	case holderIsMaintain:
		return exitcode.New(exitcode.Locked,
			"base maintenance is in progress (virtdev-maintain, PID %s)\nLock file: %s\nRetry when it has resealed the base; watch it with: systemctl --user status %s",
			shownPID, path, layout.Unit(layout.Maintenance))
	default:
		return exitcode.New(exitcode.Locked,
			"another virtdev program is running (PID %s%s)\nLock file: %s\nRetry when it has finished.",
			shownPID, describe(cmdline), path)
	}
}

// holder reads the PID in the lock file and that process's command line.
// A holder that has just taken the lock may not have written its PID yet
// (the file is empty between its truncation and the write), so an empty
// file is read again for a few milliseconds before the PID is unknown.
func holder(path string) (pid, cmdline string) {
	for try := 0; ; try++ {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", ""
		}
		pid = strings.TrimSpace(string(data))
		if pid != "" || try == 10 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := strconv.Atoi(pid); err != nil {
		return "", ""
	}
	raw, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	if err != nil {
		return pid, ""
	}
	return pid, strings.TrimSpace(string(bytes.ReplaceAll(raw, []byte{0}, []byte{' '})))
}

func describe(cmdline string) string {
	if cmdline == "" {
		return ""
	}
	return fmt.Sprintf(": %s", cmdline)
}
