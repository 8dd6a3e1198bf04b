package rsync

import (
	"context"
	"io"
	"os/exec"
	"strings"
)

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

// Args is rsync's argument vector, program first, copying sources to
// dest. Each path must already be Remote or Local.
//
// The paths reach the remote rsync through its protocol (-s), never
// through the guest's shell, so spaces, quotes and any other character in
// a name arrive as they are, whatever the versions at either end.
func (c Command) Args(sources []string, dest string) []string {
	args := []string{Tool, "-s", "-e", remoteShell(c.SSHConfig)}
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

// Run runs rsync with env (the caller's environment with the trigger
// variables: ssh keeps them too) and waits for it. Everything rsync
// prints (progress, names, messages) goes to stderr: stdout is for
// results, and rsync's are on disk. A failure is an *Error, or ErrMissing;
// ctx ending stops rsync (see run).
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
	return run(cmd)
}
