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
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// PollInterval bounds how late a waiter notices a change whose D-Bus signal
// was lost.
const PollInterval = 250 * time.Millisecond

// jobTimeout bounds a start job, which systemd finishes within
// milliseconds unless it is badly overloaded.
const jobTimeout = 30 * time.Second

// Manager is a connection to the calling user's systemd manager.
type Manager struct {
	conn *sd.Conn

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
}

// Process end codes of Status.ExecMainCode.
const (
	CodeExited = 1
	CodeKilled = 2
	CodeDumped = 3
)

// Running reports whether the unit has a live process or is on its way to
// or from having one: another start must be refused.
func (s Status) Running() bool {
	switch s.ActiveState {
	case "active", "activating", "deactivating", "reloading", "refreshing":
		return true
	}
	return false
}

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

// BusError is the failure to reach the user's systemd manager.
type BusError struct {
	Address string // the bus address tried, if any
	Err     error
}

func (e *BusError) Error() string {
	where := "no user bus address: DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist"
	if e.Address != "" {
		where = fmt.Sprintf("user bus %s", e.Address)
	}
	return fmt.Sprintf("cannot reach the systemd user manager (%s): %v\n"+
		"virtdev runs machines as systemd user units, so it needs the user bus of a logged-in user session\n"+
		"(XDG_RUNTIME_DIR=/run/user/%d, DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%d/bus).\n"+
		"Check with: systemctl --user status\n"+
		"Run it from a login session, or keep your user manager running without one: loginctl enable-linger %s",
		where, e.Err, os.Getuid(), os.Getuid(), userName())
}

func (e *BusError) Unwrap() error { return e.Err }

func userName() string {
	for _, v := range []string{"USER", "LOGNAME"} {
		if name := os.Getenv(v); name != "" {
			return name
		}
	}
	return strconv.Itoa(os.Getuid())
}

// busAddress finds the user bus the way sd-bus does, and never autolaunches
// a private dbus-daemon (as godbus would), which has no systemd behind it.
func busAddress(getenv func(string) string) (string, error) {
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a, nil
	}
	if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
		path := filepath.Join(dir, "bus")
		if info, err := os.Stat(path); err == nil && info.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + path, nil
		}
	}
	return "", errors.New("no bus address")
}

// Connect reaches the calling user's systemd manager. A missing bus, or a
// bus without systemd behind it, is a *BusError explaining the fix.
func Connect(ctx context.Context) (*Manager, error) {
	address, err := busAddress(os.Getenv)
	if err != nil {
		return nil, &BusError{Err: err}
	}
	conn, err := sd.NewConnection(func() (*dbus.Conn, error) {
		// Not dbus.WithContext(ctx): that would close the connection when
		// ctx ends, and a program interrupted halfway through a start
		// still needs it to roll back.
		c, err := dbus.Dial(address)
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
		return nil, &BusError{Address: address, Err: err}
	}
	m := &Manager{conn: conn, waiters: map[string]map[chan struct{}]struct{}{}}
	// A bus without a user manager behind it fails here, not halfway
	// through starting a machine.
	if _, err := conn.SystemStateContext(ctx); err != nil {
		conn.Close()
		return nil, &BusError{Address: address, Err: err}
	}
	return m, nil
}

// Close ends the connection.
func (m *Manager) Close() { m.conn.Close() }

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

// StartTransient creates and starts a transient service. It returns once
// systemd has finished the start job: for a simple service, once the
// process is forked. CollectMode is left at its default, so a unit that
// fails stays loaded, with its ExecMainStatus, until ResetFailed.
//
// The job is seen through even when ctx ends meanwhile (it takes
// milliseconds), so that the caller never has to guess whether the unit
// was started: it was, exactly when the error is nil.
func (m *Manager) StartTransient(ctx context.Context, unit string, t Transient) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobTimeout)
	defer cancel()
	props := []sd.Property{
		sd.PropDescription(t.Description),
		// systemd reads go-systemd's "uncleanIsFailure" flag as
		// ignore-failure: true would make a crash look like success.
		sd.PropExecStart(t.Command, false),
	}
	if len(t.StopPost) > 0 {
		props = append(props, sd.Property{
			Name:  "ExecStopPost",
			Value: dbus.MakeVariant([]execCommand{{Path: t.StopPost[0], Args: t.StopPost}}),
		})
	}
	done := make(chan string, 1)
	if _, err := m.conn.StartTransientUnitContext(ctx, unit, "fail", props, done); err != nil {
		return fmt.Errorf("systemd refused to start %s: %w", unit, err)
	}
	select {
	case result := <-done:
		if result != "done" {
			return fmt.Errorf("systemd's start job for %s ended %q", unit, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("systemd did not finish starting %s within %s", unit, jobTimeout)
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
