package runstate

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"virtdev/lib/runstate/qmptest"
	"virtdev/lib/unixsock"
)

// probe asks the status at path, as status and list do, and waits.
func probe(path string, timeout time.Duration) (RunState, error) {
	q := AskStatus(path, timeout)
	unixsock.Wait(context.Background(), q.Exchange())
	return q.Status()
}

// The question is written before QEMU greets, and what comes before the
// answer is skipped, however long.
func TestAskStatus(t *testing.T) {
	f := &qmptest.QEMU{State: string(StateIOError), Events: []string{
		`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}`,
		// Longer than any buffer: skipped whole, "status" and all.
		`{"event": "JOB_STATUS_CHANGE", "data": {"id": "` + strings.Repeat("j", 10000) + `", "status": "running"}}`,
	}}
	m := machine(t, f)
	state, err := probe(m.Monitor, time.Second)
	if err != nil || state != StateIOError {
		t.Fatalf("status = %q, %v; want io-error", state, err)
	}
	if got := f.Commands(); got != "qmp_capabilities query-status" {
		t.Errorf("QEMU was asked %s", got)
	}
	if _, err := probe(filepath.Join(t.TempDir(), "none.sock"), time.Second); err == nil {
		t.Error("a missing socket gave a status")
	}
}

// A QEMU that does not greet (another client holds its monitor) costs
// the question its timeout, no more, and is said to be busy.
func TestAskStatusBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitor.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	begin := time.Now()
	if _, err := probe(path, 200*time.Millisecond); !errors.Is(err, ErrMonitorBusy) {
		t.Fatalf("got %v, want ErrMonitorBusy", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("the question took %s with a 200ms limit", took)
	}
}

// A QMP error is the question's failure, with QEMU's words.
func TestAskStatusError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "monitor.sock")
	qmptest.Serve(t, path, &qmptest.QEMU{State: "", Events: []string{`{"error": {"class": "GenericError", "desc": "not now"}}`}})
	if _, err := probe(path, time.Second); err == nil || !strings.Contains(err.Error(), "not now") {
		t.Fatalf("got %v, want QEMU's error", err)
	}
}
