package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/runstate"
)

// The test binary is also a stand-in QEMU (FAKE_QEMU names its behaviour)
// and a stand-in supervisor (FAKE_SUPERVISOR), both working in the
// current directory as in a machine's unit, and a stand-in QEMU running an
// installer (see fakeInstaller).
func TestMain(m *testing.M) {
	switch {
	case os.Getenv(fakeSupervisorVariable) != "":
		os.Exit(fakeSupervisor(os.Getenv(fakeSupervisorVariable), os.Args[1:]))
	case os.Getenv(fakeQEMUVariable) != "":
		os.Exit(fakeInstaller(os.Getenv(fakeQEMUVariable), os.Args[1:]))
	case os.Getenv("FAKE_QEMU") != "":
		fakeQEMUMain(os.Getenv("FAKE_QEMU"))
	case os.Getenv("FAKE_SUPERVISOR") != "":
		dir, _ := os.Getwd()
		_, err := Supervise(context.Background(), layout.MachineAt("p", dir), []string{os.Args[0]},
			SuperviseOptions{Notify: func(string) error { return nil }, Log: os.Stderr, ReadyDeadline: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeQEMUMain behaves as QEMU does in the ways the supervisor cares for.
func fakeQEMUMain(mode string) {
	os.WriteFile("qemu.pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	if mode == "crash" {
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: -drive if=none: Could not open 'system.qcow2': Permission denied")
		os.Exit(1)
	}
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	ready := make(chan struct{}, 1)
	q := &fakeQMP{state: runstate.StateRunning, onReady: func() { ready <- struct{}{} }}
	if mode == "silent" {
		q.mu.Lock() // never greets anyone
	}
	if _, _, err := listenQMP("events.sock", q); err != nil {
		os.Exit(3)
	}
	switch mode {
	case "network":
		// QEMU's network card speaks on the descriptor it inherited.
		link := os.NewFile(NetworkFD, "link")
		if _, err := link.Write([]byte("frame")); err != nil {
			os.Exit(4)
		}
		fallthrough
	case "poweroff":
		<-ready
		// Not in the same instant as the handshake's answer, which
		// go-qemu reads through a buffer it then drops; QEMU sends no
		// event then either.
		time.Sleep(50 * time.Millisecond)
		q.send(`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}`)
		os.Exit(0)
	case "killed":
		<-ready
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	<-terms
	q.send(`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-signal"}}`)
	fmt.Fprintln(os.Stderr, "qemu-system-x86_64: terminating on signal 15")
	os.Exit(0)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// supervise runs Supervise on a fake QEMU in a fresh machine directory with
// a port file, as a unit would.
func supervise(t *testing.T, mode string, onReady func(layout.Machine)) (layout.Machine, Supervision, []string, string, error) {
	t.Helper()
	return superviseWith(t, mode, onReady, nil)
}

// superviseWith is supervise with a network for the machine.
func superviseWith(t *testing.T, mode string, onReady func(layout.Machine), network func() (Network, error)) (layout.Machine, Supervision, []string, string, error) {
	t.Helper()
	_, ms := machines(t, "p")
	m := ms[0]
	project.WritePort(m, 2222)
	t.Setenv("FAKE_QEMU", mode)
	var notes []string
	log := &lockedBuffer{}
	sup, err := Supervise(context.Background(), m, []string{os.Args[0], "-test.run=^$"}, SuperviseOptions{
		Notify: func(state string) error {
			notes = append(notes, state)
			if onReady != nil {
				onReady(m)
			}
			return nil
		},
		Log:           log,
		ReadyDeadline: 500 * time.Millisecond,
		Network:       network,
	})
	for _, p := range runtimePaths(m) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s outlived QEMU", filepath.Base(p))
		}
	}
	if saved, rerr := runstate.ReadShutdown(m.Shutdown); rerr != nil || saved.How != sup.Record.How {
		t.Errorf("saved record %+v, %v; want %+v", saved, rerr, sup.Record)
	}
	return m, sup, notes, log.String(), err
}

func TestSuperviseCleanPoweroff(t *testing.T) {
	_, sup, notes, _, err := supervise(t, "poweroff", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(notes, " ") != "READY=1" {
		t.Errorf("told systemd %q, want READY=1", notes)
	}
	if sup.Status != 0 || sup.Record.How != runstate.Clean || !sup.Record.Guest || sup.Record.Exit != "exit status 0" {
		t.Errorf("supervision %+v", sup)
	}
}

// A QEMU that dies at start: no READY, its status passed on, its last
// words recorded for virtdev-start to show.
func TestSuperviseQEMUDiesAtStart(t *testing.T) {
	_, sup, notes, log, err := supervise(t, "crash", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("told systemd %q about a QEMU that never came up", notes)
	}
	if sup.Status != 1 || sup.Record.How != runstate.Unknown || len(sup.Record.Messages) != 1 || !strings.Contains(sup.Record.Messages[0], "Could not open") {
		t.Errorf("supervision %+v", sup)
	}
	if !strings.Contains(log, "Could not open") {
		t.Errorf("QEMU's stderr did not reach the journal:\n%s", log)
	}
}

// SIGTERM to the supervisor reaches QEMU, and the supervisor waits for
// it: QEMU's SHUTDOWN says host-signal, so forced. Between READY=1 and the
// signal, the supervisor holds the machine's up lock.
func TestSupervisePassesSIGTERMOn(t *testing.T) {
	up := make(chan bool, 1)
	m, sup, _, log, err := supervise(t, "term", func(m layout.Machine) {
		go func() {
			deadline := time.Now().Add(5 * time.Second)
			for !lock.IsUp(m) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			up <- lock.IsUp(m)
			syscall.Kill(os.Getpid(), syscall.SIGTERM)
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	if !<-up {
		t.Error("the supervisor did not hold the up lock once it had said READY=1")
	}
	if lock.IsUp(m) {
		t.Error("the up lock outlived the supervision")
	}
	if sup.Status != 0 || sup.Record.How != runstate.Forced || sup.Record.Reason != "host-signal" {
		t.Errorf("supervision %+v", sup)
	}
	if !strings.Contains(log, "passing SIGTERM on to QEMU") {
		t.Errorf("log:\n%s", log)
	}
}

func TestSuperviseQEMUKilled(t *testing.T) {
	_, sup, _, _, err := supervise(t, "killed", nil)
	if err != nil {
		t.Fatal(err)
	}
	if sup.Status != 128+9 || sup.Record.How != runstate.Unknown || sup.Record.Exit != "killed by signal 9 (killed)" {
		t.Errorf("supervision %+v", sup)
	}
}

func TestSuperviseKillsASilentQEMU(t *testing.T) {
	_, sup, notes, _, err := supervise(t, "silent", nil)
	var silent *SilentError
	if !errors.As(err, &silent) || len(notes) != 0 {
		t.Fatalf("got %v, notes %q; want a SilentError and no READY", err, notes)
	}
	if !strings.Contains(sup.Record.Exit, "no answer on QMP") {
		t.Errorf("record %+v", sup.Record)
	}
}

// QEMU cannot outlive its supervisor, even one killed by SIGKILL.
func TestQEMUDiesWithItsSupervisor(t *testing.T) {
	_, ms := machines(t, "p")
	dir := ms[0].Dir
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "FAKE_SUPERVISOR=1", "FAKE_QEMU=term")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := 0
	for deadline := time.Now().Add(10 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(dir, "qemu.pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	}
	if pid == 0 {
		cmd.Process.Kill()
		t.Fatal("the stand-in QEMU never wrote its PID")
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("QEMU (PID %d) outlived its supervisor", pid)
		}
	}
}

// alive reports a process that runs: not gone, not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// fakeNetwork stands in for a machine's network: it keeps what QEMU sent
// over the link, and says when it was closed.
type fakeNetwork struct {
	fails  error // what Serve returns at once, when set
	got    chan string
	closed chan struct{}
}

func newFakeNetwork(fails error) *fakeNetwork {
	return &fakeNetwork{fails: fails, got: make(chan string, 1), closed: make(chan struct{})}
}

func (n *fakeNetwork) Serve(link net.Conn) error {
	if n.fails != nil {
		return n.fails
	}
	data, err := io.ReadAll(link)
	n.got <- string(data)
	return err
}

func (n *fakeNetwork) Close() error {
	close(n.closed)
	return nil
}

func (n *fakeNetwork) make() (Network, error) { return n, nil }

// The network is up before QEMU, joined to it through the descriptor
// QEMU's command line names, and closed once QEMU is gone.
func TestSuperviseRunsTheNetworkAroundQEMU(t *testing.T) {
	network := newFakeNetwork(nil)
	_, sup, _, _, err := superviseWith(t, "network", nil, network.make)
	if err != nil {
		t.Fatal(err)
	}
	if sup.Record.How != runstate.Clean {
		t.Errorf("supervision %+v, want a clean poweroff", sup)
	}
	select {
	case got := <-network.got:
		if got != "frame" {
			t.Errorf("the network got %q over the link, want QEMU's frame", got)
		}
	default:
		t.Error("the link never ended: QEMU's end outlived QEMU")
	}
	select {
	case <-network.closed:
	default:
		t.Error("the network was not closed after QEMU")
	}
}

func TestSuperviseStartsNoQEMUWithoutItsNetwork(t *testing.T) {
	refused := errors.New("port taken")
	m, sup, notes, _, err := superviseWith(t, "poweroff", nil, func() (Network, error) { return nil, refused })
	var setup *NetworkSetupError
	if !errors.As(err, &setup) || !errors.Is(err, refused) {
		t.Fatalf("got %v, want a NetworkSetupError wrapping the network's own", err)
	}
	if len(notes) != 0 || sup.Status == 0 || !strings.Contains(sup.Record.Exit, "port taken") {
		t.Errorf("supervision %+v, notes %q: want a failure recorded, nothing ready", sup, notes)
	}
	if _, err := os.Stat(m.QEMUPid); !errors.Is(err, os.ErrNotExist) {
		t.Error("QEMU was started")
	}
}

// A network that fails under a running machine stops it: the guest has
// lost its SSH with it.
func TestSuperviseStopsQEMUWhenTheNetworkFails(t *testing.T) {
	network := newFakeNetwork(errors.New("link broken"))
	began := time.Now()
	_, sup, _, log, err := superviseWith(t, "term", nil, network.make)
	var failed *NetworkError
	if !errors.As(err, &failed) || !strings.Contains(err.Error(), "link broken") {
		t.Fatalf("got %v, want a NetworkError saying why", err)
	}
	if sup.Record.How != runstate.Forced || !strings.Contains(sup.Record.Exit, "network failed") {
		t.Errorf("record %+v, want QEMU forced off because of the network", sup.Record)
	}
	if !strings.Contains(log, "stopping QEMU") {
		t.Errorf("the journal does not say why QEMU was stopped:\n%s", log)
	}
	if took := time.Since(began); took > hangupGrace+5*time.Second {
		t.Errorf("QEMU was stopped after %s", took)
	}
	select {
	case <-network.closed:
	default:
		t.Error("the network was not closed after QEMU")
	}
}
