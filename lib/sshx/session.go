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

// ErrNoSSH means the OpenSSH client is not installed.
var ErrNoSSH = errors.New("the OpenSSH client ssh is not on PATH; install it (Debian: apt install openssh-client; Arch: pacman -S openssh)")

// Config fires the pre-ssh triggers and writes the configuration
// assembled from their output and the user's files for one connection to
// t, in a private file (see WriteConfig). Any program that runs OpenSSH
// connects with it, ssh or rsync -e ssh alike:
//
//	ssh -F <path> <t.Alias()> ...
//
// env is the triggers' environment (TriggerEnv). cleanup removes the file;
// call it once the connection has ended.
func Config(ctx context.Context, l layout.Layout, t Target, env []string, stderr io.Writer, warnf func(string, ...any)) (path string, cleanup func(), err error) {
	sources, err := RunPreSSH(ctx, Triggers(l, t.Name, PreSSH, warnf), env, stderr, warnf)
	if err != nil {
		return "", nil, err
	}
	files, err := ConfigFiles(l, t.Name)
	if err != nil {
		return "", nil, err
	}
	config, err := Assemble(t, append(sources, files...))
	if err != nil {
		return "", nil, err
	}
	return WriteConfig(t.Machine, config)
}

// Session is an OpenSSH session to a machine, ready to run.
type Session struct {
	SSH    string   // path of the ssh program
	Args   []string // ssh's argv, argv[0] included
	Config string   // the connection's configuration file
	// Env is the caller's environment plus the trigger variables, which
	// ssh keeps too (a ProxyCommand or LocalCommand may use them).
	Env  []string
	Post []string // post-ssh triggers to fire when ssh ends

	cleanup func()
}

// Prepare fires the pre-ssh triggers, writes the connection's
// configuration, and returns the session that runs ssh with it; args
// follow the destination on ssh's command line (ssh reads options there
// too, and "--" ends them). Close the session when done.
func Prepare(ctx context.Context, l layout.Layout, t Target, args, environ []string, stderr io.Writer, warnf func(string, ...any)) (*Session, error) {
	path, err := exec.LookPath("ssh")
	if err != nil {
		return nil, ErrNoSSH
	}
	env := TriggerEnv(environ, t)
	config, cleanup, err := Config(ctx, l, t, env, stderr, warnf)
	if err != nil {
		return nil, err
	}
	return &Session{
		SSH:     path,
		Args:    append([]string{"ssh", "-F", config, t.Alias()}, args...),
		Config:  config,
		Env:     env,
		Post:    Triggers(l, t.Name, PostSSH, warnf),
		cleanup: cleanup,
	}, nil
}

// Run runs ssh as a child and returns its exit status (128+n when a
// signal ended it). The terminal's signals reach ssh directly, being in
// its process group; those sent to the caller alone (kill PID) are passed
// on while ssh runs, so that the caller behaves as ssh would, and waits
// for ssh to end before it cleans up. A second interrupt is not caught:
// it ends the caller at once, as everywhere in virtdev (a configuration
// left behind is removed by a later connection).
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
				if sig != syscall.SIGQUIT {
					signal.Stop(signals)
				}
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

// Finish fires the post-ssh triggers with ssh's exit status, each for at
// most PostSSHLimit. They run even when an interrupt ended the session:
// that is when cleaning up matters.
func (s *Session) Finish(ctx context.Context, sshExit int, stderr io.Writer, warnf func(string, ...any)) {
	RunPostSSH(context.WithoutCancel(ctx), s.Post, s.Env, sshExit, PostSSHLimit, stderr, warnf)
}

// Close removes the connection's configuration.
func (s *Session) Close() {
	if s.cleanup != nil {
		s.cleanup()
		s.cleanup = nil
	}
}
