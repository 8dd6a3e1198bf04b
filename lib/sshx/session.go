package sshx

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"virtdev/lib/layout"
)

// Session is an OpenSSH session to a machine, ready to run.
type Session struct {
	SSH  string   // path of the ssh program
	Args []string // ssh's argv, argv[0] included
	// Env is the caller's environment plus the trigger variables, which
	// ssh keeps too (a ProxyCommand or LocalCommand may use them).
	Env  []string
	Post []string // post-ssh triggers to fire when ssh ends
}

// ErrNoSSH means the OpenSSH client is not installed.
var ErrNoSSH = errors.New("the OpenSSH client ssh is not on PATH; install it (Debian: apt install openssh-client; Arch: pacman -S openssh)")

// Prepare fires the pre-ssh triggers, assembles the configuration from
// their output and the user's files and writes it, and returns the session
// that runs ssh with it; args follow the destination on ssh's command line
// (ssh reads options there too, and "--" ends them).
func Prepare(ctx context.Context, l layout.Layout, t Target, args, environ []string, stderr io.Writer, warnf func(string, ...any)) (*Session, error) {
	path, err := exec.LookPath("ssh")
	if err != nil {
		return nil, ErrNoSSH
	}
	env := TriggerEnv(environ, t)
	sources, err := RunPreSSH(ctx, Triggers(l, t.Name, PreSSH, warnf), env, stderr)
	if err != nil {
		return nil, err
	}
	files, err := ConfigFiles(l, t.Name)
	if err != nil {
		return nil, err
	}
	config, err := Assemble(t, append(sources, files...))
	if err != nil {
		return nil, err
	}
	if err := WriteConfig(t.Machine, config); err != nil {
		return nil, err
	}
	return &Session{
		SSH:  path,
		Args: append([]string{"ssh", "-F", t.Machine.SSHConfig, t.Alias()}, args...),
		Env:  env,
		Post: Triggers(l, t.Name, PostSSH, warnf),
	}, nil
}

// Exec replaces the process with ssh; it returns only on failure. Only a
// session without post-ssh triggers may do so: nothing of virtdev is left
// to fire them.
func (s *Session) Exec() error {
	return syscall.Exec(s.SSH, s.Args, s.Env)
}

// Run runs ssh as a child, for a session with post-ssh triggers, and
// returns its exit status (128+n when a signal ended it). The terminal's
// signals reach ssh directly, being in its process group; those sent to
// virtdev-ssh alone (kill PID) are passed on, so that it still behaves as
// ssh would.
func (s *Session) Run() (int, error) {
	cmd := exec.Command(s.SSH, s.Args[1:]...)
	cmd.Args[0] = s.Args[0]
	cmd.Env = s.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(signals)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-signals:
				cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return 0, err
	}
	status := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if status.Signaled() {
		return 128 + int(status.Signal()), nil
	}
	return status.ExitStatus(), nil
}

// Finish fires the post-ssh triggers with ssh's exit status. They run even
// when an interrupt ended the session: that is when cleaning up matters.
func (s *Session) Finish(ctx context.Context, sshExit int, stderr io.Writer, warnf func(string, ...any)) {
	RunPostSSH(context.WithoutCancel(ctx), s.Post, s.Env, sshExit, stderr, warnf)
}
