// Package rsync copies files between the host and a machine with rsync
// over the machine's OpenSSH connection, and says what rsync's exit status
// means. rsync runs ssh -F <configuration> <host>, so it connects exactly as
// virtdev-ssh does, never with the user's ~/.ssh/config.
//
// Two shapes of transfer: Command copies the paths a user names
// (virtdev-transfer); Transfer copies a list of paths and reads rsync's
// statistics back (virtdev-backup and virtdev-restore).
package rsync

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Tool is the rsync program; tests point it elsewhere.
var Tool = "rsync"

// ErrMissing means rsync is not installed on the host.
var ErrMissing = errors.New("rsync is not on PATH; install it (Debian: apt install rsync; Arch: pacman -S rsync)")

// Check makes sure rsync is installed, before anything is done that only a
// transfer needs.
func Check() error {
	if _, err := exec.LookPath(Tool); err != nil {
		return ErrMissing
	}
	return nil
}

// remoteShell is rsync's -e: ssh with the connection's configuration.
// rsync splits it at spaces itself; inside single quotes, a doubled quote
// stands for one.
func remoteShell(config string) string {
	return "ssh -F '" + strings.ReplaceAll(config, "'", "''") + "'"
}

// stopGrace is how long rsync has to end after SIGTERM, when the context
// ends, before it is killed.
const stopGrace = 5 * time.Second

// run runs an rsync command made with exec.CommandContext. The context's
// end sends SIGTERM (rsync ends its ssh itself) and kills it after
// stopGrace; a caller killed outright (SIGKILL) takes rsync with it, so
// that nothing goes on writing into what it leaves behind. A non-zero exit
// is an *Error.
func run(cmd *exec.Cmd) error {
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return err
	}
	status := exit.ExitCode()
	if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		status = 128 + int(ws.Signal())
	}
	return &Error{Status: status, Class: Classify(status)}
}

// Local names a path on the host so that rsync cannot take it for a
// remote one: rsync reads a colon before the first slash as "host:path".
func Local(path string) string {
	if remote(path) {
		return "./" + path
	}
	return path
}

// remote tells whether rsync takes path for a machine's: a colon before
// the first slash.
func remote(path string) bool {
	colon, slash := strings.IndexByte(path, ':'), strings.IndexByte(path, '/')
	return colon >= 0 && (slash < 0 || colon < slash)
}

// Class is what kind of failure an rsync exit status stands for.
type Class int

const (
	// Partial: rsync ran to its end but some files were not
	// transferred (23), or vanished while it ran (24).
	Partial Class = iota + 1
	// Transport: the connection failed or broke: ssh's own failure (255),
	// a socket or protocol stream error (10, 12), a timeout (30, 35), an
	// ssh that could not start the remote rsync (5) or was killed (16).
	Transport
	// Interrupted: rsync was told to stop (19, 20), or killed by a
	// signal (128+n).
	Interrupted
	// Other: anything else, such as a usage error (1) or a failure to
	// write the destination (11).
	Other
)

func (c Class) String() string {
	switch c {
	case Partial:
		return "partial transfer"
	case Transport:
		return "connection failure"
	case Interrupted:
		return "interrupted"
	}
	return "rsync failure"
}

// Classify tells what an rsync exit status stands for; 0 is no failure.
func Classify(status int) Class {
	switch status {
	case 0:
		return 0
	case 23, 24:
		return Partial
	case 5, 10, 12, 16, 30, 35, 255:
		return Transport
	case 19, 20:
		return Interrupted
	}
	if status > 128 && status < 255 {
		return Interrupted
	}
	return Other
}

// Error is rsync ending with a failure; rsync has said why on stderr.
type Error struct {
	Status int // rsync's exit status; 128+n when signal n ended it
	Class  Class
	Stats  Stats // as far as rsync reported them (a partial transfer does; Transfer only)
}

func (e *Error) Error() string {
	return fmt.Sprintf("rsync exited with status %d (%s)", e.Status, e.Class)
}
