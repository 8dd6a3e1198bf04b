package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/runstate"
)

// SuperviseOptions is what a supervisor needs besides QEMU's command line.
type SuperviseOptions struct {
	// Notify tells systemd about the machine (sd_notify): READY=1 once
	// QEMU answers on QMP.
	Notify func(state string) error
	// Log receives QEMU's messages (its standard error) and the
	// supervisor's own account of the machine's life: the unit's journal.
	Log io.Writer
	// Stdout receives QEMU's standard output: nothing for a project's
	// machine, whose console is a socket; the installer's console.
	Stdout io.Writer
	// ReadyDeadline bounds the time QEMU takes to answer on QMP.
	ReadyDeadline time.Duration
	// Network makes the machine's network, joined to the card the QEMU
	// command line gives the guest (see Command); nil runs QEMU without
	// one.
	Network func() (Network, error)
}

// Supervision is how a supervised QEMU ended.
type Supervision struct {
	Record runstate.Shutdown // as written to the machine's shutdown record
	// Status is the exit status to pass on: QEMU's own, or 128+n when
	// signal n ended it.
	Status int
}

// LaunchError is a QEMU that could not be started at all.
type LaunchError struct{ Err error }

func (e *LaunchError) Error() string { return "cannot start QEMU: " + e.Err.Error() }
func (e *LaunchError) Unwrap() error { return e.Err }

// SilentError is a QEMU that did not answer on QMP within the deadline;
// it was killed.
type SilentError struct{ Deadline time.Duration }

func (e *SilentError) Error() string {
	return fmt.Sprintf("QEMU did not answer on QMP within %s; it was killed", e.Deadline)
}

// Supervise runs a machine's QEMU (argv, program first) as a child of the
// calling process, which is the machine's unit's main process, working in
// the machine's directory m.Dir. It reports the machine ready once QEMU
// answers on its events monitor (m.Events), follows QEMU's events there
// for the machine's whole life, and once QEMU has exited writes the
// machine's shutdown record, removes its runtime files and returns.
//
// QEMU cannot outlive the supervisor: it is killed when the supervisor's
// thread that started it ends. SIGTERM, SIGINT and SIGHUP do not end the
// supervisor before QEMU: it passes SIGTERM on to QEMU, which powers the
// machine off the hard way, and waits for it as always.
//
// The machine's network (o.Network) is made before QEMU starts and closed
// after QEMU has exited, so that neither runs without the other: a
// network that cannot be made starts no QEMU (*NetworkSetupError), and a
// network that fails under QEMU stops it (*NetworkError), since a guest
// without its network has lost its SSH too.
func Supervise(ctx context.Context, m layout.Machine, argv []string, o SuperviseOptions) (Supervision, error) {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)
	// The journal's end of stderr may go away (journald restarts); a Go
	// program then dies of SIGPIPE at its next message unless it listens
	// for the signal, and QEMU would die with it.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)
	sup := &supervisor{m: m, o: o, signals: signals, said: &lastLines{w: o.Log, keep: keptLines}}
	end, runErr := sup.run(ctx, argv)
	rec := classify(sup.shutdown, "")
	rec.Exit = end.describe
	rec.Messages = sup.said.lines()
	rec.Time = time.Now()
	var errs []error
	if runErr != nil {
		errs = append(errs, runErr)
	}
	if err := runstate.WriteShutdown(m.Shutdown, rec); err != nil {
		errs = append(errs, fmt.Errorf("cannot record how the machine ended: %w", err))
	}
	if err := removeRuntime(m); err != nil {
		errs = append(errs, fmt.Errorf("cannot remove the machine's runtime files: %w", err))
	}
	return Supervision{Record: rec, Status: end.status}, joinFirst(errs)
}

// joinFirst keeps the first error's type in front, for callers that ask
// errors.As, and the others in its message.
func joinFirst(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	msgs := make([]string, len(errs)-1)
	for i, e := range errs[1:] {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%w\nAlso: %s", errs[0], strings.Join(msgs, "\nAlso: "))
}

// keptLines is how many of QEMU's last lines on stderr the record keeps.
const keptLines = 4

type supervisor struct {
	m        layout.Machine
	o        SuperviseOptions
	signals  chan os.Signal
	said     *lastLines
	shutdown *ShutdownEvent // QEMU's SHUTDOWN event, once it came
}

// ending is how QEMU ended.
type ending struct {
	status   int    // to pass on
	describe string // for people: "exit status 0", "killed by signal 6 (aborted)"
}

func (s *supervisor) run(ctx context.Context, argv []string) (ending, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.m.Dir
	cmd.Env = withoutNotifySocket(os.Environ())
	cmd.Stdout = s.o.Stdout
	cmd.Stderr = s.said
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Receives how the link to the network ended; never, without one.
	var linkDone chan error
	var serve func()
	if s.o.Network != nil {
		network, err := s.o.Network()
		if err != nil {
			return ending{status: 1, describe: "not started: " + err.Error()}, &NetworkSetupError{err}
		}
		defer network.Close()
		ours, theirs, err := socketPair()
		if err != nil {
			return ending{status: 1, describe: "not started: " + err.Error()}, &NetworkSetupError{err}
		}
		defer ours.Close()
		// Ours to close once QEMU has it: QEMU's end then closes with
		// QEMU alone.
		defer theirs.Close()
		cmd.ExtraFiles = []*os.File{theirs}
		linkDone = make(chan error, 1)
		serve = func() {
			theirs.Close()
			linkDone <- network.Serve(ours)
		}
	}
	started := make(chan error, 1)
	exited := make(chan *os.ProcessState, 1)
	go func() {
		// The kernel sends QEMU its parent-death signal when the thread
		// that forked it ends, not the process; Go may end a thread
		// that a goroutine left locked. This goroutine keeps its thread
		// until QEMU is gone.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		exited <- cmd.ProcessState
	}()
	if err := <-started; err != nil {
		return ending{status: 1, describe: "not started: " + err.Error()}, &LaunchError{err}
	}
	s.logf("QEMU started (PID %d)", cmd.Process.Pid)
	if serve != nil {
		go serve()
	}

	// Held from READY=1 until the machine begins to stop: what
	// virtdev-status reads instead of asking systemd (lock.HoldUp).
	var up *lock.Up
	defer func() { up.Release() }()
	forward := func(sig os.Signal, when string) {
		up.Release()
		s.logf("got %s%s; passing SIGTERM on to QEMU", sig, when)
		cmd.Process.Signal(syscall.SIGTERM)
	}
	mon, state, err := s.awaitReady(ctx, exited, forward)
	if mon != nil {
		defer mon.Close()
	}
	switch {
	case state != nil:
		return s.ended(state), nil
	case err != nil:
		cmd.Process.Kill()
		e := s.ended(<-exited)
		e.describe = fmt.Sprintf("killed after no answer on QMP within %s", s.o.ReadyDeadline)
		return e, err
	}
	if err := s.o.Notify("READY=1"); err != nil {
		s.logf("cannot tell systemd the machine is up: %v", err)
	} else if up, err = lock.HoldUp(s.m); err != nil {
		s.logf("cannot hold the machine's up lock (virtdev-status will ask systemd instead): %v", err)
	}
	var linkErr error
	var hangup <-chan time.Time
	for {
		select {
		case sig := <-s.signals:
			forward(sig, "")
		case state := <-exited:
			up.Release()
			// QEMU has sent every event by now; its hang-up ends them.
			s.shutdown = mon.Finish(time.Second)
			return s.ended(state), nil
		case linkErr = <-linkDone:
			if linkErr == nil {
				linkErr = errors.New("QEMU closed its end of the link")
			}
			hangup = time.After(hangupGrace)
		case <-hangup:
			s.logf("the machine's network failed (%v); stopping QEMU", linkErr)
			up.Release()
			state := terminateChild(cmd.Process, exited)
			s.shutdown = mon.Finish(time.Second)
			e := s.ended(state)
			e.describe = "stopped when the machine's network failed (" + e.describe + ")"
			return e, &NetworkError{linkErr}
		}
	}
}

// terminateChild ends QEMU: SIGTERM, then SIGKILL after KillGrace.
func terminateChild(p *os.Process, exited <-chan *os.ProcessState) *os.ProcessState {
	p.Signal(syscall.SIGTERM)
	select {
	case state := <-exited:
		return state
	case <-time.After(KillGrace):
	}
	p.Kill()
	return <-exited
}

// awaitReady connects to QEMU's events monitor, which answers once QEMU
// has built the machine and runs its main loop. It returns QEMU's exit
// state instead if QEMU ends first; on the deadline, an error.
func (s *supervisor) awaitReady(ctx context.Context, exited <-chan *os.ProcessState, forward func(os.Signal, string)) (*Monitor, *os.ProcessState, error) {
	deadline := time.Now().Add(s.o.ReadyDeadline)
	for {
		select {
		case state := <-exited:
			return nil, state, nil
		case sig := <-s.signals:
			forward(sig, " before the machine was up")
			continue
		default:
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil, &SilentError{s.o.ReadyDeadline}
		}
		mon, err := DialEvents(ctx, s.m.Events, left, s.event)
		if err == nil {
			s.logf("QEMU answers on QMP: the machine is up")
			return mon, nil, nil
		}
		// The socket is not there yet, or QEMU died during the
		// handshake: look again shortly.
		time.Sleep(20 * time.Millisecond)
	}
}

// event tells the journal of each QMP event, where the machine's story is
// told; the monitor keeps the SHUTDOWN event that decides the record.
func (s *supervisor) event(e Event) {
	if len(e.Data) == 0 {
		s.logf("QEMU event %s", e.Name)
		return
	}
	s.logf("QEMU event %s %v", e.Name, e.Data)
}

func (s *supervisor) ended(state *os.ProcessState) ending {
	ws, _ := state.Sys().(syscall.WaitStatus)
	var e ending
	switch {
	case ws.Signaled():
		e = ending{status: 128 + int(ws.Signal()), describe: fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())}
	default:
		e = ending{status: ws.ExitStatus(), describe: "exit status " + strconv.Itoa(ws.ExitStatus())}
	}
	s.logf("QEMU ended: %s", e.describe)
	return e
}

func (s *supervisor) logf(format string, args ...any) {
	fmt.Fprintf(s.o.Log, "virtdev-supervise: "+format+"\n", args...)
}

// withoutNotifySocket keeps QEMU from speaking for the unit: systemd
// hears only the supervisor (NotifyAccess=main) anyway.
func withoutNotifySocket(environ []string) []string {
	var env []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	return env
}

// lastLines passes everything on to w and keeps the last few lines, cut
// to a printable length, for the record.
type lastLines struct {
	w    io.Writer
	keep int

	mu      sync.Mutex
	partial []byte
	kept    []string
}

// maxLine bounds a kept line: QEMU's messages are short, and a record is
// quoted in other programs' messages.
const maxLine = 200

func (l *lastLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.add(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 4*maxLine {
		l.add(l.partial)
		l.partial = nil
	}
	return len(p), nil
}

func (l *lastLines) add(line []byte) {
	text := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, string(bytes.ToValidUTF8(line, []byte("?"))))
	if len(text) > maxLine {
		text = text[:maxLine] + "…"
	}
	if strings.TrimSpace(text) == "" {
		return
	}
	l.kept = append(l.kept, text)
	if len(l.kept) > l.keep {
		l.kept = l.kept[len(l.kept)-l.keep:]
	}
}

// lines returns the kept lines, with an unfinished last one.
func (l *lastLines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.add(l.partial)
		l.partial = nil
	}
	return l.kept
}
