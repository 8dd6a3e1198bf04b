package qemu

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestChoosePortLowestFree(t *testing.T) {
	taken := map[int]bool{2222: true, 2223: true, 2225: true}
	got, err := ChoosePort(2222, func(p int) bool { return !taken[p] })
	if err != nil || got != 2224 {
		t.Fatalf("ChoosePort = %d, %v; want 2224", got, err)
	}
}

func TestChoosePortExhausted(t *testing.T) {
	_, err := ChoosePort(65530, func(int) bool { return false })
	var pe *PortError
	if !errors.As(err, &pe) || !pe.Exhausted {
		t.Fatalf("err = %v, want an exhausted *PortError", err)
	}
}

func TestPortFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if PortFree(port) {
		t.Errorf("port %d reported free while listened on", port)
	}
	l.Close()
	if !PortFree(port) {
		t.Errorf("port %d reported taken after its listener closed", port)
	}
}

func TestPortFreeSeesWildcardListener(t *testing.T) {
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if port := l.Addr().(*net.TCPAddr).Port; PortFree(port) {
		t.Errorf("port %d reported free while 0.0.0.0 listens on it", port)
	}
}

func TestPortFileWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "port")
	if err := writePort(path, 2230); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "2230\n" {
		t.Fatalf("port file holds %q (%v), want \"2230\\n\"", data, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files stayed behind: %v", entries)
	}
}

func TestPortErrorMessages(t *testing.T) {
	raced := (&PortError{Port: 2222, Auto: true, Raced: true, Unit: "virtdev-p.service", Ended: "exit status 1"}).Error()
	for _, want := range []string{"2222", "taken", "journalctl --user -u virtdev-p.service", "next free port"} {
		if !strings.Contains(raced, want) {
			t.Errorf("race message lacks %q:\n%s", want, raced)
		}
	}
	taken := (&PortError{Port: 2300}).Error()
	if !strings.Contains(taken, strconv.Itoa(2300)) || !strings.Contains(taken, "already in use") {
		t.Errorf("taken message: %s", taken)
	}
}
