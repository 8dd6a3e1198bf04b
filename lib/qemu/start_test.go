package qemu

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"virtdev/lib/egress"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/runstate"
	"virtdev/lib/unit"
)

// bootable makes a machine with its disks, variable store and host key.
func bootable(t *testing.T) (layout.Layout, layout.Machine) {
	t.Helper()
	l, ms := machines(t, "p")
	m := ms[0]
	for _, f := range []string{m.SystemImage, m.HomeImage, m.NVRAM, m.HostKey} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return l, m
}

// freePort finds a port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startOptions(port int, accel string) StartOptions {
	return StartOptions{Port: port, MemoryMB: 1024, CPUs: 2, Accel: accel, CPU: "host",
		QEMU: "/usr/bin/qemu-system-x86_64", Supervisor: "/usr/bin/virtdev-supervise", Zone: egress.WAN}
}

// qemuDies plays a supervisor whose QEMU ends at start: it records QEMU's
// end and last words, and the start job fails.
func qemuDies(u *fakeUnits, m layout.Machine, said string) error {
	runstate.WriteShutdown(m.Shutdown, runstate.Shutdown{How: runstate.Unknown, Exit: "exit status 1", Messages: []string{said}, Time: time.Now()})
	os.Remove(m.Port)
	u.exit(unit.CodeExited, 1)
	return &unit.JobError{Unit: layout.Unit(m.Name), Result: "failed"}
}

func TestStartRunsTheSupervisorInTheMachineDirectory(t *testing.T) {
	l, m := bootable(t)
	u := newFakeUnits(false)
	u.onStart = func(int, unit.Transient) error {
		u.set(unit.Status{ActiveState: "active"})
		return nil
	}
	port := freePort(t)
	got, err := Start(context.Background(), u, l, m, startOptions(port, TCG))
	if err != nil || got != port {
		t.Fatalf("Start = %d, %v; want %d", got, err, port)
	}
	if p, err := project.ReadPort(m); err != nil || p != port {
		t.Errorf("port file: %d, %v", p, err)
	}
	tr := u.started[0]
	if !tr.Notify || tr.Dir != m.Dir || tr.StartTimeout < ReadyDeadline {
		t.Errorf("unit %+v: want a notify unit working in %s", tr, m.Dir)
	}
	if want := []string{"/usr/bin/virtdev-supervise", "--net=wan", "--ssh-port=" + strconv.Itoa(port), "--", "/usr/bin/qemu-system-x86_64"}; !slices.Equal(tr.Command[:5], want) {
		t.Errorf("command %q: want the supervisor running QEMU behind its network, %q", tr.Command, want)
	}
	if zone, err := project.Zone(m); zone != egress.WAN || err != nil {
		t.Errorf("the zone file says %q, %v; want wan", zone, err)
	}
	if !slices.Contains(tr.Command, "socket,id=qmp,server=on,wait=off,path=monitor.sock") {
		t.Errorf("the monitor is not bound by its name in the machine directory: %q", tr.Command)
	}
	if !slices.Equal(tr.StopPost[1:], []string{"-f", "--", "monitor.sock", "console.sock", "events.sock", "qemu.pid", "up", "zone", "port"}) {
		t.Errorf("ExecStopPost %q", tr.StopPost)
	}
	if u.resets != 1 {
		t.Errorf("%d ResetFailed calls, want 1 (a failed unit of the same name would block the start)", u.resets)
	}
}

// A QEMU that dies at start leaves nothing behind, and its last words
// reach the user.
func TestStartRollsBackABootFailure(t *testing.T) {
	l, m := bootable(t)
	u := newFakeUnits(false)
	u.onStart = func(int, unit.Transient) error {
		return qemuDies(u, m, "qemu-system-x86_64: -drive ...: Could not open 'system.qcow2'")
	}
	_, err := Start(context.Background(), u, l, m, startOptions(freePort(t), TCG))
	var boot *BootError
	if !errors.As(err, &boot) {
		t.Fatalf("got %v, want a BootError", err)
	}
	for _, want := range []string{"exit status 1", "Could not open", "journalctl --user -u virtdev-p.service"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the message lacks %q:\n%s", want, err)
		}
	}
	if strings.Contains(err.Error(), "VIRTDEV_CPU") {
		t.Errorf("a TCG failure blames VIRTDEV_CPU:\n%s", err)
	}
	for _, p := range runtimePaths(m) {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s outlived the failed start", p)
		}
	}
}

// Under KVM the message names VIRTDEV_CPU; with VIRTDEV_ACCEL=auto the
// start is tried again under TCG, once, with a warning.
func TestStartUnderKVMFallsBackToTCG(t *testing.T) {
	l, m := bootable(t)
	u := newFakeUnits(false)
	u.onStart = func(n int, tr unit.Transient) error {
		if slices.Contains(tr.Command, "kvm") {
			return qemuDies(u, m, "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0")
		}
		u.set(unit.Status{ActiveState: "active"})
		return nil
	}
	o := startOptions(freePort(t), KVM)
	_, err := Start(context.Background(), u, l, m, o)
	if err == nil || !strings.Contains(err.Error(), "VIRTDEV_CPU") || !strings.Contains(err.Error(), "host,-arch-capabilities") {
		t.Fatalf("without RetryTCG: %v; want a failure naming VIRTDEV_CPU", err)
	}
	var warnings []string
	o.RetryTCG = true
	o.Warn = func(f string, a ...any) { warnings = append(warnings, f) }
	u.set(unit.Status{ActiveState: "failed"})
	if _, err := Start(context.Background(), u, l, m, o); err != nil {
		t.Fatalf("with RetryTCG: %v", err)
	}
	if len(u.started) != 3 || !slices.Contains(u.started[2].Command, "tcg") {
		t.Errorf("starts: %d, the last %q; want a last one under TCG", len(u.started), u.started[len(u.started)-1].Command)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "TCG") || !strings.Contains(warnings[0], "VIRTDEV_CPU") {
		t.Errorf("warnings %q", warnings)
	}
}

// An interrupt while the unit starts ends in a rollback: the machine that
// came up is terminated and its files removed.
func TestStartInterruptedRollsBack(t *testing.T) {
	l, m := bootable(t)
	u := newFakeUnits(false)
	ctx, cancel := context.WithCancel(context.Background())
	u.onStart = func(int, unit.Transient) error {
		u.set(unit.Status{ActiveState: "active"})
		cancel() // the user's Ctrl-C, while systemd finishes the job
		return nil
	}
	u.onKill = func(sig syscall.Signal) {
		if sig == syscall.SIGTERM {
			u.exit(unit.CodeExited, 0)
		}
	}
	_, err := Start(ctx, u, l, m, startOptions(freePort(t), TCG))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the interrupt", err)
	}
	if k := u.killed(); !slices.Equal(k, []syscall.Signal{syscall.SIGTERM}) {
		t.Errorf("signals %v, want SIGTERM", k)
	}
	if _, err := os.Stat(m.Port); !errors.Is(err, os.ErrNotExist) {
		t.Error("the port file outlived the rolled-back start")
	}
}

// Defect 12: local facts are checked before systemd is asked anything.
func TestStartChecksFilesFirst(t *testing.T) {
	l, m := bootable(t)
	os.Remove(m.NVRAM)
	u := newFakeUnits(false)
	_, err := Start(context.Background(), u, l, m, startOptions(freePort(t), TCG))
	var missing *MissingFileError
	if !errors.As(err, &missing) || missing.Path != m.NVRAM {
		t.Fatalf("got %v, want the missing NVRAM", err)
	}
	if u.calls != 0 {
		t.Errorf("systemd was asked %d times before the local check failed", u.calls)
	}
}

func TestStartRefusesARunningMachine(t *testing.T) {
	l, m := bootable(t)
	u := newFakeUnits(true)
	_, err := Start(context.Background(), u, l, m, startOptions(freePort(t), TCG))
	var running *RunningError
	if !errors.As(err, &running) || len(u.started) != 0 {
		t.Fatalf("got %v after %d starts, want a RunningError and none", err, len(u.started))
	}
}

// A port another program takes between the check and QEMU's bind is told
// as such, not as a crash.
func TestStartExplainsAPortRace(t *testing.T) {
	l, m := bootable(t)
	u := newFakeUnits(false)
	port := freePort(t)
	var thief net.Listener
	defer func() {
		if thief != nil {
			thief.Close()
		}
	}()
	u.onStart = func(int, unit.Transient) error {
		thief, _ = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		return qemuDies(u, m, "qemu-system-x86_64: Could not set up host forwarding rule")
	}
	_, err := Start(context.Background(), u, l, m, startOptions(port, TCG))
	var pe *PortError
	if !errors.As(err, &pe) || !pe.Raced {
		t.Fatalf("got %v, want a raced PortError", err)
	}
}

// A machine runs in a zone its caller names: none is no default.
func TestStartRefusesAMachineWithoutAZone(t *testing.T) {
	l, m := bootable(t)
	u := newFakeUnits(false)
	o := startOptions(freePort(t), TCG)
	o.Zone = ""
	_, err := Start(context.Background(), u, l, m, o)
	var zone *egress.ZoneError
	if !errors.As(err, &zone) || len(u.started) != 0 {
		t.Fatalf("got %v after %d starts; want a ZoneError before any", err, len(u.started))
	}
}
