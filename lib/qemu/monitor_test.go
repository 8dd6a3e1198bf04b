package qemu

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"virtdev/lib/runstate"
)

// longMachineDir is a machine directory whose sockets' paths are far too
// long for a socket address, as with a long VIRTDEV_HOME and project name.
func longMachineDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.Repeat("h", 150), strings.Repeat("p", 100))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestMonitorOverLongPath(t *testing.T) {
	path := filepath.Join(longMachineDir(t), "monitor.sock")
	f := newFakeQMP(t, path, runstate.StateGuestPanicked)
	state, err := QueryStatus(context.Background(), path, time.Second)
	if err != nil || state != runstate.StateGuestPanicked {
		t.Fatalf("QueryStatus = %q, %v; want guest-panicked", state, err)
	}
	mon, err := Dial(context.Background(), path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Powerdown(time.Second); err != nil {
		t.Fatal(err)
	}
	mon.Close()
	if f.pressed() != 1 {
		t.Errorf("%d presses, want 1", f.pressed())
	}
}

func TestDialEventsRecordsShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.sock")
	f := newFakeQMP(t, path, runstate.StateRunning)
	var seen []string
	mon, err := DialEvents(context.Background(), path, time.Second, func(e Event) { seen = append(seen, e.Name) })
	if err != nil {
		t.Fatal(err)
	}
	f.send(`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "POWERDOWN"}`)
	f.send(`{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}`)
	f.mu.Lock()
	f.conn.Close() // QEMU exits
	f.mu.Unlock()
	got := mon.Finish(time.Second)
	if got == nil || !got.Guest || got.Reason != "guest-shutdown" {
		t.Fatalf("SHUTDOWN event = %+v, want guest-initiated guest-shutdown", got)
	}
	if strings.Join(seen, " ") != "POWERDOWN SHUTDOWN" {
		t.Errorf("the handler saw %v", seen)
	}
}

func TestDialGivesUpOnSilentMonitor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitor.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	begin := time.Now()
	if _, err := Dial(context.Background(), path, 200*time.Millisecond); !errors.Is(err, runstate.ErrMonitorBusy) {
		t.Fatalf("Dial without a greeting: %v, want runstate.ErrMonitorBusy", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Dial took %s to give up", d)
	}
}

// silentQEMU serves a QMP socket that greets and completes the handshake,
// then answers nothing more: a QEMU stuck in a command.
func silentQEMU(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "monitor.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte(`{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}` + "\n"))
		buf := make([]byte, 4096)
		c.Read(buf) // qmp_capabilities
		c.Write([]byte(`{"return": {}}` + "\n"))
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	return path
}

// A command QEMU never answers does not hold its caller for ever.
func TestCommandTimesOut(t *testing.T) {
	path := silentQEMU(t)
	mon, err := Dial(context.Background(), path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	begin := time.Now()
	if _, err := mon.Status(200 * time.Millisecond); err == nil {
		t.Fatal("a status nobody answered came back")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("waited %s for an answer", d)
	}
}

func TestHuman(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitor.sock")
	f := newFakeQMP(t, path, runstate.StatePaused)
	mon, err := Dial(context.Background(), path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	out, err := mon.Human("info status", time.Second)
	if err != nil || out != "VM status: paused\n" {
		t.Errorf("Human(info status) = %q, %v", out, err)
	}
	// The human monitor's complaints are its text, not a failure.
	out, err = mon.Human(`say "hi"`, time.Second)
	if err != nil || out != "unknown command: 'say \"hi\"'\n" {
		t.Errorf("Human of an unknown command = %q, %v", out, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.human) != 2 || f.human[1] != `say "hi"` {
		t.Errorf("QEMU was asked %q", f.human)
	}
}

func TestChardevInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitor.sock")
	f := newFakeQMP(t, path, runstate.StateRunning)
	for _, attached := range []bool{false, true} {
		f.mu.Lock()
		f.console = attached
		f.mu.Unlock()
		mon, err := Dial(context.Background(), path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		used, err := mon.ChardevInUse(ConsoleChardev, time.Second)
		if err != nil || used != attached {
			t.Errorf("attached %v: ChardevInUse = %v, %v", attached, used, err)
		}
		if _, err := mon.ChardevInUse("nothing", time.Second); err == nil {
			t.Error("a character device QEMU does not have was found")
		}
		mon.Close()
	}
}
