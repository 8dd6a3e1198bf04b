package runstate

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestShutdownRecordRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shutdown")
	want := Shutdown{How: Forced, Reason: "host-signal", State: StateGuestPanicked, Signal: "SIGTERM", Presses: 4,
		Exit: "exit status 0", Messages: []string{"qemu-system-x86_64: terminating on signal 15"},
		After: 10.2, Time: time.Date(2026, 4, 25, 14, 30, 22, 5, time.UTC)}
	if err := WriteShutdown(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadShutdown(path)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadShutdown = %+v, %v; want %+v", got, err, want)
	}
	if got.Clean() {
		t.Error("a forced stop reads as clean")
	}
}

func TestReadShutdownParses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shutdown")
	os.WriteFile(path, []byte(`{"how":"clean","guest":true,"reason":"guest-shutdown","after_seconds":4.1,"time":"2026-04-25T14:30:22Z"}`), 0o644)
	got, err := ReadShutdown(path)
	if err != nil || !got.Clean() || got.Reason != "guest-shutdown" || got.After != 4.1 {
		t.Fatalf("ReadShutdown = %+v, %v", got, err)
	}
	for _, bad := range []string{`not json`, `{"how":"gentle"}`, `{}`} {
		os.WriteFile(path, []byte(bad), 0o644)
		if got, err := ReadShutdown(path); err == nil {
			t.Errorf("accepted %q as %+v", bad, got)
		}
	}
	if _, err := ReadShutdown(filepath.Join(dir, "none")); !errors.Is(err, ErrNoShutdown) {
		t.Errorf("missing record: %v, want ErrNoShutdown", err)
	}
}

// Defect 10 for the record: a huge file is refused with a short excerpt.
func TestReadShutdownHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shutdown")
	os.WriteFile(path, []byte(strings.Repeat("x", 3<<20)), 0o644)
	_, err := ReadShutdown(path)
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("got %.300v (%d bytes)", err, len(err.Error()))
	}
}

func TestShutdownDescribe(t *testing.T) {
	for _, c := range []struct {
		s    Shutdown
		want string
	}{
		{Shutdown{How: Clean, Guest: true, Reason: "guest-shutdown", Exit: "exit status 0"}, "clean guest poweroff, QEMU exit status 0"},
		{Shutdown{How: Forced, Reason: "host-signal", Signal: "SIGTERM", Exit: "exit status 0"}, "forced, QEMU reason host-signal, SIGTERM, QEMU exit status 0"},
		{Shutdown{How: Unknown, Exit: "killed by signal 6 (aborted)"}, "QEMU reported no shutdown, QEMU killed by signal 6 (aborted)"},
	} {
		if got := c.s.Describe(); got != c.want {
			t.Errorf("Describe() = %q, want %q", got, c.want)
		}
	}
}
