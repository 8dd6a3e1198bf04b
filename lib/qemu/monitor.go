package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"

	"virtdev/lib/runstate"
	"virtdev/lib/unixsock"
)

// Monitor is a QMP connection to a running machine.
//
// QEMU serves one client at a time on each monitor socket and greets the
// next one only when the first leaves. So virtdev's programs hold the
// public monitor (monitor.sock) only for one command at a time: they
// connect, ask, and hang up, leaving it free for the others and the user.
// The machine's supervisor alone holds its own monitor (events.sock) for
// the machine's whole life, to hear every event.
type Monitor struct {
	mon *qmp.SocketMonitor

	drained  chan struct{} // closed once QEMU has closed the connection
	mu       sync.Mutex
	shutdown *ShutdownEvent
}

// Event is a QMP event: its name (SHUTDOWN, GUEST_PANICKED, …) and data.
type Event struct {
	Name string
	Data map[string]any
}

// ShutdownEvent is QMP's SHUTDOWN: guest is true when the guest itself
// asked to power off; reason is QEMU's word for the cause, such as
// guest-shutdown or host-signal.
type ShutdownEvent struct {
	Guest  bool
	Reason string
}

// queueRetry is how often a connection refused for a full queue is tried
// again.
const queueRetry = 10 * time.Millisecond

// whileQueueFull makes a connection with connect, again while the
// socket's queue is full, for at most timeout. QEMU queues one connection
// besides the one it serves: while another client waits there, a
// connection is refused at once (EAGAIN). Short connections free it
// within moments.
func whileQueueFull(ctx context.Context, path string, timeout time.Duration, connect func() error) error {
	begin := time.Now()
	for {
		err := connect()
		if !errors.Is(err, syscall.EAGAIN) {
			return err
		}
		if time.Since(begin) >= timeout || ctx.Err() != nil {
			return fmt.Errorf("QMP socket %s: %w: its queue stayed full for %s", path, runstate.ErrMonitorBusy, timeout)
		}
		time.Sleep(queueRetry)
	}
}

// Dial connects to a QMP socket and completes the handshake within
// timeout. Events are not followed.
func Dial(ctx context.Context, path string, timeout time.Duration) (*Monitor, error) {
	return DialEvents(ctx, path, timeout, nil)
}

// DialEvents is Dial for a client that follows the machine's events:
// handle, when not nil, sees each one, in order, and the SHUTDOWN event is
// kept for Shutdown and Finish.
func DialEvents(ctx context.Context, path string, timeout time.Duration, handle func(Event)) (*Monitor, error) {
	var mon *qmp.SocketMonitor
	err := whileQueueFull(ctx, path, timeout, func() error {
		return unixsock.Do(path, func(addr string) error {
			var err error
			mon, err = qmp.NewSocketMonitor("unix", addr, timeout)
			// The address may be a short alias of path, which is what
			// people know the socket by.
			var op *net.OpError
			if errors.As(err, &op) {
				named := *op
				named.Addr = &net.UnixAddr{Name: path, Net: "unix"}
				return &named
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	handshake := make(chan error, 1)
	go func() { handshake <- mon.Connect() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err = <-handshake:
		if err != nil {
			mon.Disconnect()
			return nil, fmt.Errorf("QMP handshake on %s: %w", path, err)
		}
	case <-timer.C:
		err = fmt.Errorf("%w: QEMU did not greet within %s", runstate.ErrMonitorBusy, timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		// go-qemu's connection cannot be hung up while its handshake
		// runs; it is hung up once QEMU greets it (or is gone).
		go func() {
			<-handshake
			mon.Disconnect()
		}()
		return nil, fmt.Errorf("QMP handshake on %s: %w", path, err)
	}
	m := &Monitor{mon: mon, drained: make(chan struct{})}
	if handle == nil {
		// Without a listener go-qemu drops events itself.
		close(m.drained)
		return m, nil
	}
	events, err := mon.Events(context.Background())
	if err != nil {
		mon.Disconnect()
		return nil, err
	}
	// go-qemu hands events over unbuffered and stops reading the socket
	// while one waits, so they are read all the time, until QEMU hangs up.
	go func() {
		defer close(m.drained)
		for e := range events {
			if e.Event == "SHUTDOWN" {
				guest, _ := e.Data["guest"].(bool)
				reason, _ := e.Data["reason"].(string)
				m.mu.Lock()
				m.shutdown = &ShutdownEvent{Guest: guest, Reason: reason}
				m.mu.Unlock()
			}
			handle(Event{Name: e.Event, Data: e.Data})
		}
	}()
	return m, nil
}

// run sends one command and waits at most timeout for its answer; QEMU
// may be too busy to answer, and nothing must wait on it for ever. A
// command that times out leaves the connection closed.
func (m *Monitor) run(command string, timeout time.Duration) ([]byte, error) {
	type answer struct {
		data []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		data, err := m.mon.Run([]byte(command))
		done <- answer{data, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-done:
		return a.data, a.err
	case <-timer.C:
		m.mon.Disconnect()
		return nil, fmt.Errorf("QEMU did not answer %s within %s", command, timeout)
	}
}

// Powerdown presses the ACPI power button.
func (m *Monitor) Powerdown(timeout time.Duration) error {
	_, err := m.run(`{"execute":"system_powerdown"}`, timeout)
	return err
}

// Status asks QEMU what state the machine is in.
func (m *Monitor) Status(timeout time.Duration) (runstate.RunState, error) {
	data, err := m.run(`{"execute":"query-status"}`, timeout)
	if err != nil {
		return "", err
	}
	var reply struct {
		Return struct {
			Status runstate.RunState `json:"status"`
		} `json:"return"`
	}
	if err := json.Unmarshal(data, &reply); err != nil || reply.Return.Status == "" {
		return "", fmt.Errorf("unexpected answer to query-status: %.200s", data)
	}
	return reply.Return.Status, nil
}

// Human runs a command of QEMU's human monitor (HMP), such as "info
// status", through QMP's human-monitor-command, and returns what the
// human monitor printed, with its line ends made "\n". QEMU answers a
// command the human monitor does not know, or cannot run, with text too:
// only a failure of QMP itself is an error.
func (m *Monitor) Human(command string, timeout time.Duration) (string, error) {
	arg, err := json.Marshal(command)
	if err != nil {
		return "", err
	}
	data, err := m.run(`{"execute":"human-monitor-command","arguments":{"command-line":`+string(arg)+`}}`, timeout)
	if err != nil {
		return "", err
	}
	var reply struct {
		Return *string `json:"return"`
	}
	if err := json.Unmarshal(data, &reply); err != nil || reply.Return == nil {
		return "", fmt.Errorf("unexpected answer to human-monitor-command: %.200s", data)
	}
	return strings.ReplaceAll(*reply.Return, "\r\n", "\n"), nil
}

// ChardevInUse tells whether a client is connected to the socket of the
// character device with the given id (ConsoleChardev): QEMU serves such a
// socket to one client at a time, and names a free one "disconnected:…"
// in query-chardev.
func (m *Monitor) ChardevInUse(id string, timeout time.Duration) (bool, error) {
	data, err := m.run(`{"execute":"query-chardev"}`, timeout)
	if err != nil {
		return false, err
	}
	var reply struct {
		Return []struct {
			Label    string `json:"label"`
			Filename string `json:"filename"`
		} `json:"return"`
	}
	if err := json.Unmarshal(data, &reply); err != nil {
		return false, fmt.Errorf("unexpected answer to query-chardev: %.200s", data)
	}
	for _, c := range reply.Return {
		if c.Label == id {
			return !strings.HasPrefix(c.Filename, "disconnected:"), nil
		}
	}
	return false, fmt.Errorf("QEMU has no character device %q", id)
}

// Cont continues a paused machine (QMP's cont). QEMU first retries the
// disk writes that paused it.
func (m *Monitor) Cont(timeout time.Duration) error {
	_, err := m.run(`{"execute":"cont"}`, timeout)
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

// HumanCommand runs one command of the human monitor over a connection
// of its own: QEMU must greet it within dial, and answer within run.
func HumanCommand(ctx context.Context, path, command string, dial, run time.Duration) (string, error) {
	mon, err := Dial(ctx, path, dial)
	if err != nil {
		return "", err
	}
	defer mon.Close()
	return mon.Human(command, run)
}

// QueryStatus asks the machine's status over a connection of its own.
func QueryStatus(ctx context.Context, path string, timeout time.Duration) (runstate.RunState, error) {
	mon, err := Dial(ctx, path, timeout)
	if err != nil {
		return "", err
	}
	defer mon.Close()
	return mon.Status(timeout)
}
