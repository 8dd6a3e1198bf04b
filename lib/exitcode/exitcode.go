// Package exitcode is the table of exit codes that mean the same in every
// virtdev program, and the way an error says which code it stands for.
//
// The rule for errors across lib/: a package returns typed errors that tell
// what happened, in words for people (what went wrong, the value or path,
// the fix). An error that stands for a condition any program can meet (a
// project that does not exist, a held lock, a malformed variable) also
// carries its code from this table, through an ExitCode method. Every other
// condition is a program's own: the program decides its code, from its own
// table (see lib/cli).
package exitcode

import (
	"errors"
	"fmt"
)

// Code is one exit status and what it means, as --help and the man pages
// list it.
type Code struct {
	N       int
	Meaning string
}

// Codes every program may meet. A program declares the ones it can return in
// its table; those in Universal are in every table.
var (
	Failure = Code{1, "an unexpected failure that no other code describes"}

	InvalidName = Code{2, "invalid project name, or a reserved one (base, maintenance)"}
	NotFound    = Code{3, "project not found"}
	NotRunning  = Code{4, "the machine is not running"}
	StalePort   = Code{5, "the machine's port file outlived it (its unit is not running)"}
	CorruptPort = Code{6, "the machine's port file does not hold a port"}
	Running     = Code{7, "the machine is running, and must be stopped first"}

	Usage          = Code{64, "usage error"}
	Output         = Code{74, "the result could not be written to standard output"}
	Locked         = Code{75, "another virtdev program holds a lock this one needs"}
	KeyMissing     = Code{77, "the SSH key is missing"}
	KeyPermissions = Code{78, "the SSH key's permissions are too open"}
	SnapshotID     = Code{79, "invalid snapshot id"}
	TriggerRefused = Code{80, "a pre-ssh trigger refused the connection"}
	Config         = Code{81, "malformed environment variable"}
	NoUserManager  = Code{82, "the systemd user manager cannot be reached"}
	Unusable       = Code{83, "the project directory is unusable (not a directory, a symbolic link, or not readable)"}
	NoBase         = Code{84, "no sealed base"}
	BaseDamaged    = Code{85, "the sealed base is damaged"}
	HomeUnusable   = Code{86, "VIRTDEV_HOME or its lock files are unusable"}
	Paused         = Code{87, "the machine is paused (by a full host disk, or by a user)"}
	// HostKeyMismatch: SSH refused to talk to what answers on the
	// machine's port, which is not its guest as virtdev pinned it.
	HostKeyMismatch = Code{88, "the machine's SSH server presented another host key than the one pinned for it"}
	// UnitLeftover: the user manager still holds a unit of the machine's
	// name that does not run, most often one whose file an earlier
	// manager left, and refuses to make the machine's unit.
	UnitLeftover = Code{89, "the systemd user manager holds a unit of the machine's name that does not run"}

	Interrupted = Code{130, "interrupted by a signal (SIGINT, SIGTERM or SIGHUP)"}
)

// Universal are in every program's table: no program can rule them out.
var Universal = []Code{Failure, Usage, Interrupted}

// Shared lists every code above, in numeric order.
var Shared = []Code{Failure, InvalidName, NotFound, NotRunning, StalePort, CorruptPort, Running,
	Usage, Output, Locked, KeyMissing, KeyPermissions, SnapshotID, TriggerRefused, Config,
	NoUserManager, Unusable, NoBase, BaseDamaged, HomeUnusable, Paused, HostKeyMismatch, UnitLeftover, Interrupted}

// Coder is an error that stands for one of the shared codes.
type Coder interface {
	error
	ExitCode() int
}

// Of returns the code err carries, if any error in its chain carries one.
func Of(err error) (int, bool) {
	var c Coder
	if errors.As(err, &c) {
		return c.ExitCode(), true
	}
	return 0, false
}

// Error is a failure with a shared code and a finished message, for the
// conditions that need no more structure than that.
type Error struct {
	Code    Code
	Message string
	Err     error // the cause, kept for errors.Is and errors.As
}

func (e *Error) Error() string { return e.Message }
func (e *Error) ExitCode() int { return e.Code.N }
func (e *Error) Unwrap() error { return e.Err }

// New builds an Error with a shared code.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an Error with a shared code whose message leads into err's.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

// For is the code err stands for: 0 for nil, its shared code when it
// carries one, else Failure.
func For(err error) int {
	if err == nil {
		return 0
	}
	if n, ok := Of(err); ok {
		return n
	}
	return Failure.N
}
