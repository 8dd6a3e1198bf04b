package qemu

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// Monitor is a QMP connection to a running machine. It records the
// SHUTDOWN event QEMU sends before it exits: the one reliable account of
// how the machine ended.
type Monitor struct {
	mon *qmp.SocketMonitor

	drained  chan struct{} // closed once QEMU has closed the connection
	mu       sync.Mutex
	shutdown *ShutdownEvent
}

// ShutdownEvent is QMP's SHUTDOWN: guest is true when the guest itself
// asked to power off; reason is QEMU's word for the cause, such as
// guest-shutdown or host-signal.
type ShutdownEvent struct {
	Guest  bool
	Reason string
}

// ErrMonitorBusy is a QMP socket that accepts a connection but does not
// greet: QEMU is serving another client (or is too busy to answer).
var ErrMonitorBusy = errors.New("QMP monitor busy")

// Dial connects to a QMP socket and completes the handshake within
// timeout. QEMU serves one QMP client at a time and greets the next one
// only when the first leaves, hence the bound.
func Dial(ctx context.Context, path string, timeout time.Duration) (*Monitor, error) {
	mon, err := qmp.NewSocketMonitor("unix", path, timeout)
	if err != nil {
		return nil, err
	}
	handshake := make(chan error, 1)
	go func() { handshake <- mon.Connect() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err = <-handshake:
	case <-timer.C:
		err = fmt.Errorf("%w: QEMU did not greet within %s", ErrMonitorBusy, timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		mon.Disconnect()
		return nil, fmt.Errorf("QMP handshake on %s: %w", path, err)
	}
	events, err := mon.Events(context.Background())
	if err != nil {
		mon.Disconnect()
		return nil, err
	}
	m := &Monitor{mon: mon, drained: make(chan struct{})}
	// go-qemu hands events over unbuffered and stops reading the socket
	// while one waits, so they are read all the time, until QEMU hangs up.
	go func() {
		defer close(m.drained)
		for e := range events {
			if e.Event != "SHUTDOWN" {
				continue
			}
			guest, _ := e.Data["guest"].(bool)
			reason, _ := e.Data["reason"].(string)
			m.mu.Lock()
			m.shutdown = &ShutdownEvent{Guest: guest, Reason: reason}
			m.mu.Unlock()
		}
	}()
	return m, nil
}

// Powerdown presses the ACPI power button.
func (m *Monitor) Powerdown() error {
	_, err := m.mon.Run([]byte(`{"execute":"system_powerdown"}`))
	return err
}

// Shutdown is the SHUTDOWN event seen so far, or nil.
func (m *Monitor) Shutdown() *ShutdownEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shutdown
}

// Finish waits up to timeout for QEMU to close the connection, which it
// does on exit after every event it had to send, then closes our end.
func (m *Monitor) Finish(timeout time.Duration) *ShutdownEvent {
	select {
	case <-m.drained:
	case <-time.After(timeout):
	}
	m.Close()
	return m.Shutdown()
}

// Close hangs up.
func (m *Monitor) Close() { m.mon.Disconnect() }
