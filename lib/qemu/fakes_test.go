package qemu

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"syscall"
	"testing"

	"virtdev/lib/runstate"
	"virtdev/lib/unit"
	"virtdev/lib/unixsock"
)

// fakeQMP is QEMU's side of a QMP socket: one client at a time, as QEMU
// serves them, with the machine in state, the power button counted, and
// events sent to the client connected at the time.
type fakeQMP struct {
	mu          sync.Mutex
	state       runstate.RunState
	presses     int
	conts       int
	disks       []fakeDisk // query-block's answer
	clients     int
	conn        net.Conn
	console     bool              // a client is attached to the console
	human       []string          // the human monitor's commands, in order
	onPowerdown func(presses int) // run after each press, without the lock
	onReady     func()            // run after each handshake, without the lock
	// onCont decides the state cont leaves, without the lock; without
	// it the machine runs again.
	onCont func(conts int) runstate.RunState
}

func newFakeQMP(t *testing.T, path string, state runstate.RunState) *fakeQMP {
	t.Helper()
	f, l, err := listenQMP(path, &fakeQMP{state: state})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return f
}

// listenQMP serves QMP at path as f until the listener is closed.
func listenQMP(path string, f *fakeQMP) (*fakeQMP, net.Listener, error) {
	var l net.Listener
	err := unixsock.Do(path, func(addr string) error {
		var err error
		l, err = net.Listen("unix", addr)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.serve(c)
		}
	}()
	return f, l, nil
}

func (f *fakeQMP) serve(c net.Conn) {
	defer c.Close()
	f.mu.Lock()
	f.clients++
	f.conn = c
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.conn = nil
		f.mu.Unlock()
	}()
	f.send(`{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}`)
	// Commands are JSON values, not lines: go-qemu ends none with a
	// newline, and QEMU needs none.
	dec := json.NewDecoder(c)
	for {
		var cmd struct {
			Execute   string
			ID        json.RawMessage
			Arguments struct {
				CommandLine string `json:"command-line"`
			}
		}
		if dec.Decode(&cmd) != nil {
			return
		}
		// A reply carries its command's id, when it has one.
		id := ""
		if cmd.ID != nil {
			id = `, "id": ` + string(cmd.ID)
		}
		switch cmd.Execute {
		case "qmp_capabilities":
			f.send(`{"return": {}}`)
			if f.onReady != nil {
				f.onReady()
			}
		case "query-status":
			f.mu.Lock()
			state := f.state
			f.mu.Unlock()
			f.send(`{"return": {"status": "` + string(state) + `", "singlestep": false, "running": ` +
				map[bool]string{true: "true", false: "false"}[state == runstate.StateRunning] + `}` + id + `}`)
		case "system_powerdown":
			f.mu.Lock()
			f.presses++
			n := f.presses
			f.mu.Unlock()
			f.send(`{"return": {}}`)
			if f.onPowerdown != nil {
				f.onPowerdown(n)
			}
		case "human-monitor-command":
			f.mu.Lock()
			f.human = append(f.human, cmd.Arguments.CommandLine)
			state := f.state
			f.mu.Unlock()
			reply := "unknown command: '" + cmd.Arguments.CommandLine + "'\r\n"
			if cmd.Arguments.CommandLine == "info status" {
				reply = "VM status: " + string(state) + "\r\n"
			}
			data, _ := json.Marshal(map[string]string{"return": reply})
			f.send(string(data))
		case "query-chardev":
			f.mu.Lock()
			prefix := "disconnected:"
			if f.console {
				prefix = ""
			}
			f.mu.Unlock()
			f.send(`{"return": [{"frontend-open": false, "filename": "` + prefix + `unix:console.sock,server=on", "label": "console"}, {"frontend-open": true, "filename": "unix:monitor.sock,server=on", "label": "qmp"}]}`)
		case "query-block":
			f.mu.Lock()
			var blocks []map[string]any
			for _, d := range f.disks {
				b := map[string]any{"device": d.Device, "inserted": map[string]any{"file": d.File}}
				if d.IOStatus != "" {
					b["io-status"] = d.IOStatus
				}
				blocks = append(blocks, b)
			}
			f.mu.Unlock()
			answer, _ := json.Marshal(map[string]any{"return": blocks})
			f.send(string(answer[:len(answer)-1]) + id + "}")
		case "cont":
			f.mu.Lock()
			f.conts++
			n := f.conts
			f.mu.Unlock()
			state := runstate.StateRunning
			if f.onCont != nil {
				state = f.onCont(n)
			}
			f.setState(state)
			f.send(`{"return": {}}`)
		default:
			f.send(`{"error": {"class": "CommandNotFound", "desc": "no"}}`)
		}
	}
}

// send writes one line to the client connected now, if any.
func (f *fakeQMP) send(line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil {
		f.conn.Write([]byte(line + "\n"))
	}
}

func (f *fakeQMP) setState(s runstate.RunState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = s
}

func (f *fakeQMP) continued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conts
}

func (f *fakeQMP) pressed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.presses
}

// fakeDisk is one of the machine's block devices as query-block reports
// it: its drive's id, image file, and last error ("" when it reports none,
// "ok", "nospace", "failed").
type fakeDisk struct{ Device, File, IOStatus string }

// fakeUnits is a systemd user manager with one unit, whose reactions the
// test decides.
type fakeUnits struct {
	mu      sync.Mutex
	st      unit.Status
	changed chan struct{} // closed at every change
	calls   int           // every call, to prove none was made
	kills   []syscall.Signal
	started []unit.Transient
	resets  int

	onKill  func(sig syscall.Signal)
	onStart func(n int, t unit.Transient) error
}

func newFakeUnits(active bool) *fakeUnits {
	f := &fakeUnits{changed: make(chan struct{})}
	f.st = unit.Status{LoadState: "loaded", ActiveState: "inactive"}
	if active {
		f.st = unit.Status{LoadState: "loaded", ActiveState: "active", SubState: "running", MainPID: 42}
	}
	return f
}

// set changes the unit's state and wakes the waiters.
func (f *fakeUnits) set(st unit.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
	close(f.changed)
	f.changed = make(chan struct{})
}

// exit ends the unit the way systemd reports a main process's end.
func (f *fakeUnits) exit(code, status int32) {
	state := "inactive"
	if code != unit.CodeExited || status != 0 {
		state = "failed"
	}
	f.set(unit.Status{LoadState: "loaded", ActiveState: state, ExecMainCode: code, ExecMainStatus: status})
}

func (f *fakeUnits) Status(ctx context.Context, name string) (unit.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.st, nil
}

func (f *fakeUnits) WaitDown(ctx context.Context, name string) (unit.Status, error) {
	for {
		f.mu.Lock()
		f.calls++
		st, changed := f.st, f.changed
		f.mu.Unlock()
		if st.Down() {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-changed:
		}
	}
}

func (f *fakeUnits) StartTransient(ctx context.Context, name string, t unit.Transient) error {
	f.mu.Lock()
	f.calls++
	f.started = append(f.started, t)
	n := len(f.started)
	f.mu.Unlock()
	return f.onStart(n, t)
}

func (f *fakeUnits) ResetFailed(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.resets++
	return nil
}

func (f *fakeUnits) Kill(ctx context.Context, name string, sig syscall.Signal) error {
	f.mu.Lock()
	f.calls++
	f.kills = append(f.kills, sig)
	f.mu.Unlock()
	if f.onKill != nil {
		f.onKill(sig)
	}
	return nil
}

func (f *fakeUnits) killed() []syscall.Signal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]syscall.Signal(nil), f.kills...)
}
