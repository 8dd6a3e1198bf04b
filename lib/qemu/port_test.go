package qemu

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"virtdev/lib/layout"
	"virtdev/lib/project"
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

// machines makes projects in a fresh layout.
func machines(t *testing.T, names ...string) (layout.Layout, []layout.Machine) {
	t.Helper()
	l := layout.Layout{Home: t.TempDir()}
	var ms []layout.Machine
	for _, n := range names {
		m := l.Project(n)
		if err := os.MkdirAll(m.Dir, 0o700); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return l, ms
}

// A port another machine's port file names is never chosen, even when
// nothing listens on it yet (its QEMU may be about to bind it).
func TestClaimPortSkipsClaimedPorts(t *testing.T) {
	l, ms := machines(t, "a", "b")
	first, err := ChoosePort(FirstPort, PortFree)
	if err != nil {
		t.Fatal(err)
	}
	if err := project.WritePort(ms[0], first); err != nil {
		t.Fatal(err)
	}
	got, err := claimPort(l, ms[1], 0)
	if err != nil {
		t.Fatal(err)
	}
	if got == first {
		t.Errorf("chose port %d, which a's port file claims", got)
	}
	if port, err := project.ReadPort(ms[1]); err != nil || port != got {
		t.Errorf("b's port file holds %d, %v; want %d", port, err, got)
	}
	_, err = claimPort(l, ms[1], first)
	var pe *PortError
	if !errors.As(err, &pe) || pe.Claimed != "a" || !strings.Contains(err.Error(), "machine a") {
		t.Errorf("asking for a's port: %v, want a PortError naming a", err)
	}
}

// Two starts at once never choose the same port.
func TestClaimPortConcurrently(t *testing.T) {
	names := []string{"p0", "p1", "p2", "p3", "p4", "p5"}
	l, ms := machines(t, names...)
	ports := make(chan int, len(ms))
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := claimPort(l, m, 0)
			if err != nil {
				t.Error(err)
			}
			ports <- p
		}()
	}
	wg.Wait()
	close(ports)
	seen := map[int]bool{}
	for p := range ports {
		if seen[p] {
			t.Errorf("port %d chosen twice", p)
		}
		seen[p] = true
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
