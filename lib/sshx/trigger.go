package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
)

// Trigger events.
const (
	PreSSH  = "pre-ssh"
	PostSSH = "post-ssh"
)

// Triggers finds the executable trigger scripts for event that apply to a
// machine, in the order they fire: the system's, then the project's (the
// maintenance machine has only the system's). A file that is there but not
// executable is skipped with a warning rather than silently: its owner
// meant it to run.
func Triggers(l layout.Layout, name, event string, warnf func(string, ...any)) []string {
	paths := []string{l.Trigger(event)}
	if name != layout.Maintenance {
		paths = append(paths, l.ProjectConfig(name).Trigger(event))
	}
	var found []string
	for _, p := range paths {
		info, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			warnf("%s trigger %s skipped: %v", event, p, err)
		case !info.Mode().IsRegular():
			warnf("%s trigger %s skipped: not a regular file", event, p)
		case info.Mode().Perm()&0o111 == 0:
			warnf("%s trigger %s skipped: not executable (make it so with: chmod +x %s)", event, p, p)
		default:
			found = append(found, p)
		}
	}
	return found
}

// TriggerEnv is the environment triggers run in: the caller's, plus what
// they need to know about the connection, replacing any stale values (an
// environment with a name twice means whichever its reader finds first).
func TriggerEnv(environ []string, t Target) []string {
	env := make([]string, 0, len(environ)+3)
	for _, kv := range environ {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "VIRTDEV_PROJECT", "VIRTDEV_PORT", "VIRTDEV_SSH_KEY", "VIRTDEV_SSH_EXIT":
		default:
			env = append(env, kv)
		}
	}
	return append(env,
		"VIRTDEV_PROJECT="+t.Name,
		"VIRTDEV_PORT="+strconv.Itoa(t.Port),
		"VIRTDEV_SSH_KEY="+t.Key,
	)
}

// Trigger time limits.
const (
	// TriggerWaitDelay is how long a trigger's output is waited for after
	// the trigger itself has ended: a background process it started may
	// hold its output open for ever, and must not hold virtdev with it.
	TriggerWaitDelay = 2 * time.Second
	// PostSSHLimit bounds each post-ssh trigger: the session is over, and
	// nobody should wait long for its cleaning up.
	PostSSHLimit = 30 * time.Second
)

// RunPreSSH fires the pre-ssh triggers in order and returns what they
// printed as configuration sources, highest priority first, i.e. in the
// reverse of firing order: the project's trigger outranks the system's.
//
// Triggers get no standard input, which belongs to ssh (virtdev-ssh p --
// bash -s < script); one that must ask the user can open /dev/tty. Their
// stderr is the user's. A trigger that exits non-zero, or cannot be run,
// refuses the connection: exit 80. They have no time limit, since one may
// ask the user something, but what a trigger leaves running in the
// background is not waited for.
func RunPreSSH(ctx context.Context, triggers, env []string, stderr io.Writer, warnf func(string, ...any)) ([]Source, error) {
	var sources []Source
	for _, path := range triggers {
		var out bytes.Buffer
		if err := runTrigger(ctx, path, env, &out, stderr, warnf); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, exitcode.New(exitcode.TriggerRefused,
				"pre-ssh trigger %s refused the connection: %v\nIts own messages, if any, are above. Fix it, or move it away to connect without it.",
				path, err)
		}
		sources = append([]Source{{Origin: path, Text: out.Bytes()}}, sources...)
	}
	return sources, nil
}

// RunPostSSH fires the post-ssh triggers once ssh has ended, with ssh's
// exit status in VIRTDEV_SSH_EXIT, each for at most limit. Their output is
// not wanted (stdout may be the remote command's, piped somewhere), and a
// failure is only a warning: the session is over either way.
func RunPostSSH(ctx context.Context, triggers, env []string, sshExit int, limit time.Duration, stderr io.Writer, warnf func(string, ...any)) {
	env = append(env[:len(env):len(env)], "VIRTDEV_SSH_EXIT="+strconv.Itoa(sshExit))
	for _, path := range triggers {
		tctx, cancel := context.WithTimeout(ctx, limit)
		err := runTrigger(tctx, path, env, nil, stderr, warnf)
		timedOut := tctx.Err() == context.DeadlineExceeded
		cancel()
		switch {
		case timedOut:
			warnf("post-ssh trigger %s did not finish within %s; it was stopped", path, limit)
		case err != nil:
			warnf("post-ssh trigger %s failed: %v", path, err)
		}
	}
}

// runTrigger runs one trigger. A nil stdout discards its output.
func runTrigger(ctx context.Context, path string, env []string, stdout, stderr io.Writer, warnf func(string, ...any)) error {
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = env
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = stderr
	cmd.WaitDelay = TriggerWaitDelay
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.Is(err, exec.ErrWaitDelay):
		warnf("trigger %s left a process behind that keeps its output open; what that process writes is ignored", path)
		return nil
	case errors.As(err, &exit):
		return fmt.Errorf("it ended with %s", exit.ProcessState)
	}
	return err
}
