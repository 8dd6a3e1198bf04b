package userbus

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

func TestBusAddress(t *testing.T) {
	dir := t.TempDir()
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	if _, err := Address(env(map[string]string{"XDG_RUNTIME_DIR": dir})); err == nil {
		t.Fatal("a runtime directory without a bus socket gave an address")
	}
	l, err := net.Listen("unix", filepath.Join(dir, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := Address(env(map[string]string{"XDG_RUNTIME_DIR": dir}))
	if want := "unix:path=" + filepath.Join(dir, "bus"); err != nil || got != want {
		t.Fatalf("Address = %q, %v; want %q", got, err, want)
	}
	got, _ = Address(env(map[string]string{"XDG_RUNTIME_DIR": dir, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}))
	if got != "unix:path=/x" {
		t.Fatalf("DBUS_SESSION_BUS_ADDRESS not preferred: %q", got)
	}
	if _, err := Address(env(map[string]string{"DBUS_SESSION_BUS_ADDRESS": "autolaunch:"})); err == nil {
		t.Fatal("autolaunch: accepted; it would start a bus without systemd")
	}
}

func TestBusErrorNamesTheFix(t *testing.T) {
	msg := (&BusError{Err: net.ErrClosed}).Error()
	for _, want := range []string{"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "systemctl --user", "loginctl enable-linger"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestRunning(t *testing.T) {
	for state, running := range map[string]bool{
		"active": true, "activating": true, "deactivating": true, "reloading": true, "refreshing": true,
		"inactive": false, "failed": false, "": false,
	} {
		if Running(state) != running {
			t.Errorf("Running(%q) = %v", state, !running)
		}
	}
}
