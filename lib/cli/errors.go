package cli

import (
	"fmt"

	"virtdev/lib/exitcode"
)

// Error is a program's own failure: the exit code from its table that tells
// callers which one it was, and a message for people: what went wrong, the
// value or path involved, and the command that fixes it, one paragraph,
// possibly several lines. Failures every program can meet come from lib/
// with their shared code instead (see lib/exitcode).
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
	return &Error{Code: exitcode.Usage.N, Message: fmt.Sprintf(format, args...), usage: true}
}

// Exit ends the program with code and prints nothing, for a program that
// hands on the exit status of another one, which has spoken for itself.
func Exit(code int) *Error { return &Error{Code: code} }
