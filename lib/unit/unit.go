// Package unit runs virtdev's machines as transient systemd user units and
// watches them, over D-Bus (the user bus of the calling user).
//
// A program connects once, reads a unit's state with Status, and learns that
// a unit changed state from systemd's PropertiesChanged signals rather than
// by polling systemctl: WaitFor and WaitDown return within milliseconds of
// the change. A slow safety poll backs the signals up, so a lost signal costs
// at most PollInterval.
//
//	m, err := unit.Connect(ctx)
//	if err != nil {
//		return err // the message names the bus variables and the fix
//	}
//	defer m.Close()
//	st, err := m.Status(ctx, layout.Unit(name))
//	// st.Running(), st.Down(), st.ExecMainStatus …
//	// in a goroutine: end, err := m.WaitDown(ctx, layout.Unit(name))
package unit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"virtdev/lib/exitcode"
	"virtdev/lib/userbus"
)

// PollInterval bounds how late a waiter notices a change whose D-Bus signal
// was lost.
const PollInterval = 250 * time.Millisecond

// jobTimeout bounds a start job, which systemd finishes within
// milliseconds unless it is badly overloaded.
const jobTimeout = 30 * time.Second

// Manager is a connection to the calling user's systemd manager.
type Manager struct {
	conn   *sd.Conn
	cancel context.CancelFunc // closes the connections

	mu       sync.Mutex
	watching bool
	waiters  map[string]map[chan struct{}]struct{}
}

// Status is what systemd knows about one unit. A unit systemd has never
// heard of (or has already garbage-collected) reads as LoadState
// "not-found", ActiveState "inactive".
type Status struct {
	LoadState   string // loaded, not-found, …
	ActiveState string // active, activating, deactivating, inactive, failed, …
	SubState    string // running, exited, dead, failed, …
	Result      string // success, exit-code, signal, timeout, …
	MainPID     uint32 // 0 when no process runs
	// ExecMainCode is how the main process ended, as in waitid(2)'s
	// si_code: 1 exited (ExecMainStatus is the exit status), 2 killed or
	// 3 dumped (ExecMainStatus is the signal number); 0 while it runs.
	ExecMainCode   int32
	ExecMainStatus int32
	// ControlGroup is the unit's cgroup, as a path under the cgroup
	// file system's root ("/…/app.slice/virtdev-p.service"); every
	// process of the unit is in it or below it.
	ControlGroup string
}

// Process end codes of Status.ExecMainCode.
const (
	CodeExited = 1
	CodeKilled = 2
	CodeDumped = 3
)

// Running reports whether the unit has a live process or is on its way to
// or from having one: another start must be refused.
func (s Status) Running() bool { return userbus.Running(s.ActiveState) }

// Down reports whether the unit has finished: nothing of it runs any more.
func (s Status) Down() bool { return !s.Running() }

// Ended describes how the main process ended, for messages: "exit status
// 1", "killed by signal 9", or "" when no process has ended.
func (s Status) Ended() string {
	switch s.ExecMainCode {
	case CodeExited:
		return fmt.Sprintf("exit status %d", s.ExecMainStatus)
	case CodeKilled, CodeDumped:
		return fmt.Sprintf("killed by signal %d (%s)", s.ExecMainStatus, syscall.Signal(s.ExecMainStatus))
	}
	return ""
}

// Describe says how the unit is and how its main process ended, for
// messages: "failed, result exit-code, exit status 1".
func (s Status) Describe() string {
	how := s.ActiveState
	if s.Result != "" && s.Result != "success" {
		how += ", result " + s.Result
	}
	if ended := s.Ended(); ended != "" {
		how += ", " + ended
	}
	return how
}

// Connect reaches the calling user's systemd manager within
// userbus.ConnectDeadline. A missing, silent or broken bus, or a bus without
// systemd behind it, is a *userbus.BusError explaining the fix; ctx ending first
// returns its error.
func Connect(ctx context.Context) (*Manager, error) {
	return connect(ctx, os.Getenv, userbus.ConnectDeadline)
}

func connect(ctx context.Context, getenv func(string) string, deadline time.Duration) (*Manager, error) {
	address, err := userbus.Address(getenv)
	if err != nil {
		return nil, &userbus.BusError{Err: err}
	}
	// The connections live on this context, not ctx: a program
	// interrupted halfway through a start still needs them to roll back.
	// Cancelling it closes them, which ends a setup stuck on a silent
	// bus, and is how Close ends them.
	life, cancel := context.WithCancel(context.Background())
	type result struct {
		m   *Manager
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := dial(life, address, deadline)
		if m != nil {
			m.cancel = cancel
		}
		done <- result{m, err}
	}()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			cancel()
			return nil, &userbus.BusError{Address: address, Err: r.err}
		}
		return r.m, nil
	case <-timer.C:
		err = fmt.Errorf("no answer within %s", deadline)
	case <-ctx.Done():
		err = ctx.Err()
	}
	cancel()
	// The setup may still finish after all; what it made is closed then.
	go func() {
		if r := <-done; r.m != nil {
			r.m.conn.Close()
		}
	}()
	if ctx.Err() != nil {
		return nil, err
	}
	return nil, &userbus.BusError{Address: address, Err: err}
}

// dial makes go-systemd's two connections (calls and signals) on life and
// checks that a user manager answers on them.
func dial(life context.Context, address string, deadline time.Duration) (*Manager, error) {
	conn, err := sd.NewConnection(func() (*dbus.Conn, error) {
		c, err := dbus.Dial(address, dbus.WithContext(life))
		if err != nil {
			return nil, err
		}
		if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
			c.Close()
			return nil, err
		}
		if err := c.Hello(); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	// A bus without a user manager behind it fails here, not halfway
	// through starting a machine.
	ctx, cancel := context.WithTimeout(life, deadline)
	defer cancel()
	if _, err := conn.SystemStateContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return &Manager{conn: conn, waiters: map[string]map[chan struct{}]struct{}{}}, nil
}

// Close ends the connection.
func (m *Manager) Close() {
	m.conn.Close()
	m.cancel()
}

// Status reads a unit's state.
func (m *Manager) Status(ctx context.Context, unit string) (Status, error) {
	props, err := m.conn.GetAllPropertiesContext(ctx, unit)
	if err != nil {
		return Status{}, fmt.Errorf("cannot read the state of %s: %w", unit, err)
	}
	str := func(k string) string { s, _ := props[k].(string); return s }
	i32 := func(k string) int32 { n, _ := props[k].(int32); return n }
	pid, _ := props["MainPID"].(uint32)
	return Status{
		LoadState:      str("LoadState"),
		ActiveState:    str("ActiveState"),
		SubState:       str("SubState"),
		Result:         str("Result"),
		MainPID:        pid,
		ExecMainCode:   i32("ExecMainCode"),
		ExecMainStatus: i32("ExecMainStatus"),
		ControlGroup:   str("ControlGroup"),
	}, nil
}

// WaitFor returns the unit's status as soon as done accepts it, or the
// context's error (with the last status read) when ctx ends first.
func (m *Manager) WaitFor(ctx context.Context, unit string, done func(Status) bool) (Status, error) {
	wake, err := m.watch(unit)
	if err != nil {
		return Status{}, err
	}
	defer m.unwatch(unit, wake)
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		// Read after subscribing: a change between the two is then either
		// in this read or in a signal still to come.
		st, err := m.Status(ctx, unit)
		if err != nil {
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			return st, err
		}
		if done(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-wake:
		case <-tick.C:
		}
	}
}

// WaitDown returns once the unit is inactive or failed, with its final
// status. Run it in a goroutine to learn at once that a machine stopped.
func (m *Manager) WaitDown(ctx context.Context, unit string) (Status, error) {
	return m.WaitFor(ctx, unit, Status.Down)
}

// watch registers interest in a unit's changes; the first watcher turns on
// systemd's signals for this connection.
func (m *Manager) watch(unit string) (chan struct{}, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.watching {
		if err := m.conn.Subscribe(); err != nil {
			return nil, fmt.Errorf("cannot subscribe to systemd's unit signals: %w", err)
		}
		// go-systemd drops updates when this buffer is full and reports
		// that on errs; both only ever wake waiters, who then re-read.
		updates := make(chan *sd.PropertiesUpdate, 256)
		errs := make(chan error, 16)
		m.conn.SetPropertiesSubscriber(updates, errs)
		go m.dispatch(updates, errs)
		m.watching = true
	}
	wake := make(chan struct{}, 1)
	if m.waiters[unit] == nil {
		m.waiters[unit] = map[chan struct{}]struct{}{}
	}
	m.waiters[unit][wake] = struct{}{}
	return wake, nil
}

func (m *Manager) unwatch(unit string, wake chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.waiters[unit], wake)
	if len(m.waiters[unit]) == 0 {
		delete(m.waiters, unit)
	}
}

func (m *Manager) dispatch(updates <-chan *sd.PropertiesUpdate, errs <-chan error) {
	for {
		select {
		case u := <-updates:
			m.wake(u.UnitName)
		case <-errs:
			m.wake("")
		}
	}
}

// wake nudges the waiters of one unit, or of every unit when name is "".
func (m *Manager) wake(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for unit, set := range m.waiters {
		if name != "" && unit != name {
			continue
		}
		for w := range set {
			select {
			case w <- struct{}{}:
			default:
			}
		}
	}
}

// Transient describes a service unit that exists only while it runs.
type Transient struct {
	Description string
	Command     []string // absolute path of the program first
	// Dir is the working directory of Command and StopPost.
	Dir string
	// Notify makes the unit Type=notify: it is started once its main
	// process says READY=1 (sd_notify), and the start fails if that
	// process ends first. Only the main process is heard (NotifyAccess=main).
	Notify bool
	// StartTimeout bounds the start; systemd ends a unit that takes
	// longer. Zero keeps systemd's default.
	StartTimeout time.Duration
	// StopPost, when set, runs after the main process ended, however it
	// ended (ExecStopPost).
	StopPost []string
}

// execCommand is systemd's ExecStart/ExecStopPost entry, D-Bus type
// (sasb): program, argv, ignore-failure.
type execCommand struct {
	Path          string
	Args          []string
	IgnoreFailure bool
}

// JobError is a start job that systemd ran and that failed: for a notify
// unit, its main process ended before it was ready, or the start timed
// out. The unit stays loaded in its failed state.
type JobError struct {
	Unit   string
	Result string // systemd's word for the job's end: failed, timeout, …
}

func (e *JobError) Error() string {
	return fmt.Sprintf("systemd's start job for %s ended %q", e.Unit, e.Result)
}

// ExistsError is a transient unit that cannot be made because systemd
// already has a unit of that name that does not run: most often one whose
// file an earlier user manager left in the runtime directory (transient
// units' files outlive a manager that did not end cleanly).
type ExistsError struct {
	Unit     string
	Fragment string // the file systemd loaded it from; "" when unknown
}

// ExitCode is the shared code of the condition.
func (e *ExistsError) ExitCode() int { return exitcode.UnitLeftover.N }

func (e *ExistsError) Error() string {
	if e.Fragment == "" {
		return fmt.Sprintf("systemd already has a unit %s, which does not run\nForget it, then try again: systemctl --user reset-failed %s; systemctl --user daemon-reload", e.Unit, e.Unit)
	}
	return fmt.Sprintf("systemd already has a unit %s, loaded from %s, which does not run: a leftover of an earlier user manager\nRemove it, then try again: rm %s && systemctl --user daemon-reload", e.Unit, e.Fragment, e.Fragment)
}

// StartTransient creates and starts a transient service. It returns once
// systemd has finished the start job: for a notify service, once the
// service said it is ready, else once the process is forked. CollectMode
// is left at its default, so a unit that fails stays loaded, with its
// ExecMainStatus, until ResetFailed.
//
// The job is seen through even when ctx ends meanwhile, so that the caller
// never has to guess whether the unit was started: it was, exactly when
// the error is nil.
func (m *Manager) StartTransient(ctx context.Context, unit string, t Transient) error {
	limit := jobTimeout
	if t.StartTimeout > 0 {
		limit += t.StartTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	defer cancel()
	props := []sd.Property{
		sd.PropDescription(t.Description),
		// systemd reads go-systemd's "uncleanIsFailure" flag as
		// ignore-failure: true would make a crash look like success.
		sd.PropExecStart(t.Command, false),
	}
	if t.Dir != "" {
		props = append(props, sd.Property{Name: "WorkingDirectory", Value: dbus.MakeVariant(t.Dir)})
	}
	if t.Notify {
		props = append(props, sd.PropType("notify"),
			sd.Property{Name: "NotifyAccess", Value: dbus.MakeVariant("main")})
	}
	if t.StartTimeout > 0 {
		props = append(props, sd.Property{Name: "TimeoutStartUSec", Value: dbus.MakeVariant(uint64(t.StartTimeout / time.Microsecond))})
	}
	if len(t.StopPost) > 0 {
		props = append(props, sd.Property{
			Name:  "ExecStopPost",
			Value: dbus.MakeVariant([]execCommand{{Path: t.StopPost[0], Args: t.StopPost}}),
		})
	}
	done := make(chan string, 1)
	if _, err := m.conn.StartTransientUnitContext(ctx, unit, "fail", props, done); err != nil {
		var derr dbus.Error
		if errors.As(err, &derr) && derr.Name == "org.freedesktop.systemd1.UnitExists" {
			fragment, _ := m.conn.GetUnitPropertyContext(ctx, unit, "FragmentPath")
			e := &ExistsError{Unit: unit}
			if fragment != nil {
				e.Fragment, _ = fragment.Value.Value().(string)
			}
			return e
		}
		return fmt.Errorf("systemd refused to start %s: %w", unit, err)
	}
	select {
	case result := <-done:
		if result != "done" {
			return &JobError{Unit: unit, Result: result}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("systemd did not finish starting %s within %s", unit, limit)
	}
}

// ResetFailed forgets a unit's failed state, so that its name can be used
// again. A unit systemd does not know needs nothing.
func (m *Manager) ResetFailed(ctx context.Context, unit string) error {
	err := m.conn.ResetFailedUnitContext(ctx, unit)
	var derr dbus.Error
	if errors.As(err, &derr) && derr.Name == "org.freedesktop.systemd1.NoSuchUnit" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot reset the failed state of %s: %w", unit, err)
	}
	return nil
}

// Kill sends a signal to every process of the unit.
func (m *Manager) Kill(ctx context.Context, unit string, sig syscall.Signal) error {
	if err := m.conn.KillUnitWithTarget(ctx, unit, sd.All, int32(sig)); err != nil {
		return fmt.Errorf("cannot send %s to %s: %w", sig, unit, err)
	}
	return nil
}
