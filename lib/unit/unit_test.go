package unit

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/userbus"
)

func TestStatusStates(t *testing.T) {
	for state, running := range map[string]bool{
		"active": true, "activating": true, "deactivating": true, "reloading": true,
		"inactive": false, "failed": false,
	} {
		s := Status{ActiveState: state}
		if s.Running() != running || s.Down() == running {
			t.Errorf("%s: Running=%v Down=%v", state, s.Running(), s.Down())
		}
	}
}

func TestStatusEnded(t *testing.T) {
	for _, c := range []struct {
		s    Status
		want string
	}{
		{Status{ExecMainCode: CodeExited, ExecMainStatus: 1}, "exit status 1"},
		{Status{ExecMainCode: CodeKilled, ExecMainStatus: 9}, "killed by signal 9 (killed)"},
		{Status{}, ""},
	} {
		if got := c.s.Ended(); got != c.want {
			t.Errorf("Ended() = %q, want %q", got, c.want)
		}
	}
}

// silentBus accepts connections and never says a word, as a wedged bus
// daemon does.
func silentBus(t *testing.T) func(string) string {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return func(k string) string {
		if k == "XDG_RUNTIME_DIR" {
			return dir
		}
		return ""
	}
}

// Defect 15: connecting to a bus that never answers gives up within the
// deadline instead of blocking until SIGKILL.
func TestConnectGivesUpOnSilentBus(t *testing.T) {
	begin := time.Now()
	_, err := connect(context.Background(), silentBus(t), 200*time.Millisecond)
	var be *userbus.BusError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Fatalf("got %v, want a BusError saying the bus did not answer", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("gave up after %s", d)
	}
}

// An interrupt during the setup ends it at once, as an interrupt.
func TestConnectEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := connect(ctx, silentBus(t), time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
}

// A name systemd still holds is explained with the file to remove.
func TestExistsErrorNamesTheFix(t *testing.T) {
	e := &ExistsError{Unit: "virtdev-p.service", Fragment: "/run/user/1000/systemd/transient/virtdev-p.service"}
	for _, want := range []string{"virtdev-p.service", "a leftover of an earlier user manager", "rm /run/user/1000/systemd/transient/virtdev-p.service && systemctl --user daemon-reload"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("%q does not say %q", e.Error(), want)
		}
	}
	if msg := (&ExistsError{Unit: "virtdev-p.service"}).Error(); !strings.Contains(msg, "systemctl --user reset-failed virtdev-p.service") {
		t.Errorf("without a file: %q", msg)
	}
	if code, ok := exitcode.Of(e); !ok || code != exitcode.UnitLeftover.N {
		t.Errorf("exit code %d, %v; want the shared %d", code, ok, exitcode.UnitLeftover.N)
	}
}
