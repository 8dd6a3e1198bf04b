// Package rsync copies files between the host and a machine with rsync
// over the machine's OpenSSH connection, and says what rsync's exit status
// means. virtdev-transfer and virtdev-backup/restore run it the same way:
//
//	path, cleanup, err := sshx.Config(...)   // the connection's configuration
//	c := rsync.Command{SSHConfig: path, Host: sshx.Alias(name), Options: []string{"-a"}}
//	err = c.Run(ctx, []string{c.Remote("src")}, rsync.Local("dest"), env, os.Stderr)
//	var failed *rsync.Error // errors.As(err, &failed): failed.Class
//
// rsync runs ssh -F <configuration> <host>, so it connects exactly as
// virtdev-ssh does, never with the user's ~/.ssh/config.
package rsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
)

// Tool is the rsync program; tests point it elsewhere.
var Tool = "rsync"

// ErrMissing means rsync is not installed on the host.
var ErrMissing = errors.New("rsync is not on PATH; install it (Debian: apt install rsync; Arch: pacman -S rsync)")

// Command is how rsync is run between the host and one machine.
type Command struct {
	SSHConfig string   // the connection's OpenSSH configuration (sshx.Config)
	Host      string   // the machine's host name in it (sshx.Alias)
	Options   []string // rsync's own options: -a, --files-from=FILE, …
	Progress  bool     // show the progress of the whole transfer
	Names     bool     // name each file as it is transferred
}

// Remote names a path on the machine. A relative path is relative to the
// guest user's home directory, /home/dev, where ssh puts rsync; "~" and a
// leading "~/" are read as that directory too.
func (c Command) Remote(path string) string {
	switch {
	case path == "~":
		path = ""
	case strings.HasPrefix(path, "~/"):
		path = path[2:]
	}
	return c.Host + ":" + path
}

// Local names a path on the host so that rsync cannot take it for a
// remote one: rsync reads a colon before the first slash as "host:path".
func Local(path string) string {
	colon, slash := strings.IndexByte(path, ':'), strings.IndexByte(path, '/')
	if colon >= 0 && (slash < 0 || colon < slash) {
		return "./" + path
	}
	return path
}

// Args is rsync's argument vector, program first, copying sources to
// dest. Each path must already be Remote or Local.
//
// The paths reach the remote rsync through its protocol (-s), never
// through the guest's shell, so spaces, quotes and any other character in
// a name arrive as they are, whatever the versions at either end.
func (c Command) Args(sources []string, dest string) []string {
	args := []string{Tool, "-s", "-e", "ssh -F " + quote(c.SSHConfig)}
	args = append(args, c.Options...)
	switch {
	case c.Progress && c.Names:
		args = append(args, "--human-readable", "--info=progress2,name1")
	case c.Progress:
		args = append(args, "--human-readable", "--info=progress2")
	case c.Names:
		args = append(args, "--info=name1")
	}
	args = append(args, "--")
	return append(append(args, sources...), dest)
}

// quote protects an argument of rsync's -e, which rsync splits at spaces
// itself: inside single quotes, a doubled quote stands for one.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Run runs rsync with env (the caller's environment with the trigger
// variables: ssh keeps them too) and waits for it. Everything rsync
// prints (progress, names, messages) goes to stderr: stdout is for
// results, and rsync's are on disk. A failure is an *Error, or ErrMissing;
// ctx ending stops rsync.
func (c Command) Run(ctx context.Context, sources []string, dest string, env []string, stderr io.Writer) error {
	argv := c.Args(sources, dest)
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return ErrMissing
	}
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// rsync ends its ssh itself when told to stop.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	err = cmd.Run()
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
	Status int
	Class  Class
}

func (e *Error) Error() string {
	return fmt.Sprintf("rsync exited with status %d (%s)", e.Status, e.Class)
}
