package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// fakeQEMU serves one QMP client: the greeting, the capabilities
// handshake, and on system_powerdown the reply, the SHUTDOWN event a
// powering-off guest causes, and the hang-up of an exiting QEMU.
func fakeQEMU(t *testing.T, path string) {
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
		// Commands are JSON values, not lines: go-qemu ends none with a
		// newline, and QEMU needs none.
		dec := json.NewDecoder(c)
		for {
			var cmd struct{ Execute string }
			if dec.Decode(&cmd) != nil {
				return
			}
			switch cmd.Execute {
			case "qmp_capabilities":
				c.Write([]byte(`{"return": {}}` + "\n"))
			case "system_powerdown":
				c.Write([]byte(`{"return": {}}` + "\n"))
				c.Write([]byte(`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "POWERDOWN"}` + "\n"))
				c.Write([]byte(`{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}` + "\n"))
				return
			}
		}
	}()
}

func TestMonitorRecordsShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitor.sock")
	fakeQEMU(t, path)
	mon, err := Dial(context.Background(), path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Powerdown(); err != nil {
		t.Fatal(err)
	}
	got := mon.Finish(time.Second)
	if got == nil || !got.Guest || got.Reason != "guest-shutdown" {
		t.Fatalf("SHUTDOWN event = %+v, want guest-initiated guest-shutdown", got)
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
	if _, err := Dial(context.Background(), path, 200*time.Millisecond); !errors.Is(err, ErrMonitorBusy) {
		t.Fatalf("Dial without a greeting: %v, want ErrMonitorBusy", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Dial took %s to give up", d)
	}
}
