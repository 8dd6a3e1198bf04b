package cli

import (
	"errors"
	"fmt"
)

// Exit codes owned by the shared library. They mean the same in every
// program; a program's own codes live in its main.go and man page.
const (
	ExitOK             = 0
	ExitFailure        = 1  // an unexpected failure no code was reserved for
	ExitInvalidName    = 2  // project name fails ^[a-zA-Z0-9_-]{1,100}$
	ExitUsage          = 64 // EX_USAGE: bad flags or arguments
	ExitLocked         = 75 // EX_TEMPFAIL: another program holds the lock
	ExitKeyMissing     = 77 // SSH private key not found
	ExitKeyPermissions = 78 // SSH private key readable by others
	ExitSnapshotID     = 79 // snapshot id is not YYYY-MM-DD/HH-MM-SS
	ExitTriggerRefused = 80 // a pre-ssh trigger refused the connection
	ExitConfig         = 81 // an environment variable is malformed
	ExitNoUserManager  = 82 // the systemd user manager cannot be reached
	ExitInterrupted    = 130
)

// Error is a failure with the exit code that tells callers which one it was
// and a message for people: what went wrong, the value or path involved, and
// the command that fixes it, one paragraph, possibly several lines.
type Error struct {
	Code    int
	Message string
	usage   bool // print the usage line after the message
	cause   error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.cause }

// Errorf builds an Error with a fixed exit code.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap gives err an exit code and a leading explanation, keeping err in the
// chain so callers can still inspect it.
func Wrap(code int, err error, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: code, Message: msg + ": " + err.Error(), cause: err}
}

// Usage is a usage error: exit 64, followed by the usage line.
func Usage(format string, args ...any) *Error {
	return &Error{Code: ExitUsage, Message: fmt.Sprintf(format, args...), usage: true}
}

// Exit ends the program with code and prints nothing, for a program that
// hands on the exit status of another one, which has spoken for itself.
func Exit(code int) *Error { return &Error{Code: code} }

// Code returns the exit code err stands for: its own when it carries one,
// 1 otherwise.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitFailure
}

// Positionals checks the number of positional arguments.
func Positionals(args []string, min, max int) error {
	switch {
	case len(args) < min:
		return Usage("missing argument")
	case max >= 0 && len(args) > max:
		return Usage("unexpected argument %q", args[max])
	}
	return nil
}
