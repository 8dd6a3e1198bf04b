package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"virtdev/lib/egress"
	"virtdev/lib/firmware"
	"virtdev/lib/image"
	"virtdev/lib/layout"
	"virtdev/lib/testhost"
)

// fakeQEMUVariable makes the test binary act as QEMU running an installer
// (see fakeInstaller); its value names what the installer does.
const fakeQEMUVariable = "VIRTDEV_TEST_FAKE_QEMU"

// fakeSupervisorVariable makes the test binary act as the installer
// machine's supervisor, reduced to what Install relies on: it becomes the
// QEMU it is given. Its value names the file where it writes its own
// options.
const fakeSupervisorVariable = "VIRTDEV_TEST_FAKE_SUPERVISOR"

func fakeSupervisor(record string, args []string) int {
	i := slices.Index(args, "--")
	if i < 0 || i+1 >= len(args) {
		fmt.Fprintln(os.Stderr, "fake supervisor: no QEMU command line after --")
		return 64
	}
	if err := os.WriteFile(record, []byte(strings.Join(args[:i], " ")), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "fake supervisor:", err)
		return 1
	}
	os.Unsetenv(fakeSupervisorVariable)
	err := syscall.Exec(args[i+1], args[i+1:], os.Environ())
	fmt.Fprintln(os.Stderr, "fake supervisor:", err)
	return 1
}

// fakeInstaller plays QEMU for Install: it checks that the disks and the
// variable store exist, serves QMP on the socket named on its command line,
// prints the console line, and ends as the scenario says, with the
// SHUTDOWN event QEMU would send.
func fakeInstaller(scenario string, args []string) int {
	var socket string
	for i, a := range args {
		if a == "-drive" && strings.Contains(args[i+1], "file=") {
			file := args[i+1][strings.LastIndex(args[i+1], "file=")+5:]
			if _, err := os.Stat(file); err != nil {
				fmt.Fprintln(os.Stderr, "fake QEMU:", err)
				return 2
			}
		}
		if a == "-cpu" && args[i+1] == "" {
			fmt.Fprintln(os.Stderr, "qemu-system-x86_64: -cpu : unable to find CPU model ''")
			return 1
		}
		if rest, ok := strings.CutPrefix(a, "socket,id=qmp,"); ok {
			socket = rest[strings.Index(rest, "path=")+5:]
		}
	}
	if scenario == "nostart" {
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied")
		return 1
	}
	terminated := make(chan os.Signal, 1)
	signal.Notify(terminated, syscall.SIGTERM)
	l, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake QEMU:", err)
		return 2
	}
	defer l.Close()
	c, err := l.Accept()
	if err != nil {
		return 2
	}
	defer c.Close()
	c.Write([]byte(`{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}` + "\n"))
	var cmd struct{ Execute string }
	if json.NewDecoder(c).Decode(&cmd) != nil || cmd.Execute != "qmp_capabilities" {
		return 2
	}
	c.Write([]byte(`{"return": {}}` + "\n"))
	// A machine takes seconds to boot before it can power off. go-qemu
	// drops the events that come before its client subscribes, which it
	// does right after the handshake; this stands in for the boot.
	time.Sleep(200 * time.Millisecond)
	fmt.Printf("virtdev-install: %s\n", scenario)
	shutdown := func(guest bool, reason string) {
		fmt.Fprintf(c, `{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": %t, "reason": %q}}`+"\n", guest, reason)
	}
	switch scenario {
	case "poweroff":
		shutdown(true, "guest-shutdown")
	case "reset":
		shutdown(true, "guest-reset")
	case "quit":
		shutdown(false, "host-qmp-quit")
	case "crash":
		fmt.Fprintln(os.Stderr, "qemu: fatal: lost the machine")
		return 1
	case "hang":
		<-terminated
		shutdown(false, "host-signal")
	}
	return 0
}

// syncBuffer is a console that the test reads while Install writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type installFixture struct {
	install Install
	home    string // VIRTDEV_HOME: installation/ goes here
	console *syncBuffer
	stages  []string
}

// newInstall prepares an Install whose QEMU is this test binary playing the
// installer of scenario.
func newInstall(t *testing.T, scenario string) *installFixture {
	t.Helper()
	image.Tool = testhost.Tool(t, "qemu-img", "qemu-utils")
	t.Setenv(fakeQEMUVariable, scenario)
	dir := t.TempDir()
	code := filepath.Join(dir, "OVMF_CODE.fd")
	vars := filepath.Join(dir, "OVMF_VARS.fd")
	medium := filepath.Join(dir, "installer.iso")
	for _, f := range []string{code, vars, medium} {
		if err := os.WriteFile(f, []byte(filepath.Base(f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &installFixture{home: filepath.Join(dir, "home"), console: &syncBuffer{}}
	if err := os.Mkdir(f.home, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeSupervisorVariable, filepath.Join(dir, "supervisor"))
	f.install = Install{
		QEMU: exe, Supervisor: exe, Zone: egress.WAN, Accel: TCG, MemoryMB: 512, CPUs: 1,
		Firmware:   firmware.Pair{Code: code, Vars: vars},
		Medium:     medium,
		Dest:       layout.Layout{Home: f.home}.Installation(),
		SystemSize: 4 << 30, HomeSize: 100 << 20,
		Console: f.console,
		Stage:   func(format string, args ...any) { f.stages = append(f.stages, fmt.Sprintf(format, args...)) },
	}
	return f
}

// homeEntries lists what VIRTDEV_HOME holds.
func (f *installFixture) homeEntries(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(f.home)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestInstallSucceedsOnPoweroff(t *testing.T) {
	f := newInstall(t, "poweroff")
	if err := f.install.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := f.homeEntries(t); !slices.Equal(got, []string{"installation"}) {
		t.Errorf("VIRTDEV_HOME holds %q, want only installation", got)
	}
	entries, err := os.ReadDir(f.install.Dest.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"home.qcow2", "nvram", "system.qcow2"}; !slices.Equal(names, want) {
		t.Errorf("installation/ holds %q, want %q", names, want)
	}
	if data, err := os.ReadFile(f.install.Dest.NVRAM); err != nil || string(data) != "OVMF_VARS.fd" {
		t.Errorf("nvram = %q, %v; want a copy of OVMF_VARS", data, err)
	}
	for _, d := range []struct {
		path string
		size int64
	}{{f.install.Dest.SystemImage, 4 << 30}, {f.install.Dest.HomeImage, 100 << 20}} {
		info, err := image.Inspect(context.Background(), d.path)
		if err != nil || info.Format != "qcow2" || info.VirtualSize != d.size {
			t.Errorf("%s: %+v, %v; want an empty qcow2 of %d bytes", d.path, info, err, d.size)
		}
	}
	if got := f.console.String(); got != "virtdev-install: poweroff\n" {
		t.Errorf("console = %q", got)
	}
	// The machine runs under its supervisor, in the zone asked for, with
	// no SSH forward.
	if got, _ := os.ReadFile(os.Getenv(fakeSupervisorVariable)); string(got) != "--net=wan" {
		t.Errorf("the supervisor was given %q, want --net=wan alone", got)
	}
	if len(f.stages) != 2 || !strings.Contains(f.stages[1], f.install.Medium) {
		t.Errorf("stages: %q", f.stages)
	}
}

// Every way the installer can end without powering off leaves nothing.
func TestInstallFailures(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		check    func(t *testing.T, err error)
	}{
		{"reset", func(t *testing.T, err error) {
			var e *InstallFailedError
			if !errors.As(err, &e) || e.Reason != "guest-reset" || !strings.Contains(err.Error(), "messages are above") {
				t.Errorf("Run = %v, want an InstallFailedError for guest-reset", err)
			}
		}},
		{"quit", func(t *testing.T, err error) {
			var e *InstallStoppedError
			if !errors.As(err, &e) || e.Reason != "host-qmp-quit" {
				t.Errorf("Run = %v, want an InstallStoppedError", err)
			}
		}},
		{"crash", func(t *testing.T, err error) {
			var e *InstallCrashError
			if !errors.As(err, &e) || e.Exit != "exit status 1" || !strings.Contains(err.Error(), "qemu: fatal: lost the machine") {
				t.Errorf("Run = %v, want an InstallCrashError with QEMU's message", err)
			}
		}},
		{"nostart", func(t *testing.T, err error) {
			var e *InstallCrashError
			if !errors.As(err, &e) || !strings.Contains(err.Error(), "failed to initialize kvm") {
				t.Errorf("Run = %v, want an InstallCrashError with QEMU's message", err)
			}
		}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			f := newInstall(t, tc.scenario)
			tc.check(t, f.install.Run(context.Background()))
			if got := f.homeEntries(t); len(got) != 0 {
				t.Errorf("a failed installation left %q", got)
			}
		})
	}
}

func TestInstallTimeout(t *testing.T) {
	f := newInstall(t, "hang")
	f.install.Timeout = 500 * time.Millisecond
	err := f.install.Run(context.Background())
	var e *InstallTimeoutError
	if !errors.As(err, &e) || e.After != f.install.Timeout {
		t.Fatalf("Run = %v, want an InstallTimeoutError", err)
	}
	if got := f.homeEntries(t); len(got) != 0 {
		t.Errorf("a timed-out installation left %q", got)
	}
}

func TestInstallInterrupted(t *testing.T) {
	f := newInstall(t, "hang")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for !strings.Contains(f.console.String(), "hang") {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	if err := f.install.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if got := f.homeEntries(t); len(got) != 0 {
		t.Errorf("an interrupted installation left %q", got)
	}
}

func TestInstallRefusals(t *testing.T) {
	f := newInstall(t, "poweroff")
	if err := os.Mkdir(f.install.Dest.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(f.install.Dest.Dir, "keep")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := f.install.Run(context.Background())
	var exists *InstallExistsError
	if !errors.As(err, &exists) || !strings.Contains(err.Error(), "virtdev-seal") {
		t.Errorf("Run over an installation = %v, want an InstallExistsError", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the existing installation was touched: %v", err)
	}
	os.RemoveAll(f.install.Dest.Dir)

	f.install.Medium = filepath.Join(f.home, "missing.iso")
	var missing *MissingFileError
	if err := f.install.Run(context.Background()); !errors.As(err, &missing) || missing.Path != f.install.Medium {
		t.Errorf("Run without the medium = %v, want a MissingFileError", err)
	}
	f.install.Medium = f.home
	var setup *InstallSetupError
	if err := f.install.Run(context.Background()); !errors.As(err, &setup) {
		t.Errorf("Run with a directory as the medium = %v, want an InstallSetupError", err)
	}

	f = newInstall(t, "poweroff")
	f.install.SystemSize = 1 << 30
	if err := f.install.Run(context.Background()); !errors.As(err, &setup) || !strings.Contains(err.Error(), "VIRTDEV_SYSTEM_DISK_SIZE=1G") {
		t.Errorf("Run with a small system disk = %v, want an InstallSetupError naming the variable", err)
	}
	if got := f.homeEntries(t); len(got) != 0 {
		t.Errorf("a refused installation left %q", got)
	}
	if f.console.String() != "" {
		t.Error("a refused installation booted")
	}
}

func testInstallCommand(accel string) InstallCommand {
	return InstallCommand{
		Binary: "/usr/bin/qemu-system-x86_64", Accel: accel, CPU: "host,-arch-capabilities", MemoryMB: 4096, CPUs: 4,
		FirmwareCode: "/fw/OVMF_CODE.fd", NVRAM: "/h/.installation-1/nvram", Medium: "/c/virtdev,1.iso",
		SystemImage: "/h/.installation-1/system.qcow2", HomeImage: "/h/.installation-1/home.qcow2",
		Monitor: "monitor.sock", Events: "events.sock",
	}
}

func TestInstallArgs(t *testing.T) {
	args := testInstallCommand(TCG).Args()
	if args[0] != "/usr/bin/qemu-system-x86_64" || !slices.Equal(option(args, "-accel"), []string{"tcg"}) || len(option(args, "-cpu")) != 0 {
		t.Errorf("TCG: argv[0] %q, -accel %q, -cpu %q", args[0], option(args, "-accel"), option(args, "-cpu"))
	}
	if got := option(testInstallCommand(KVM).Args(), "-cpu"); !slices.Equal(got, []string{"host,-arch-capabilities"}) {
		t.Errorf("KVM: -cpu %q", got)
	}
	for flag, want := range map[string][]string{
		"-m":       {"4096"},
		"-smp":     {"4"},
		"-machine": {"q35"},
		"-drive": {
			"if=pflash,format=raw,readonly=on,file=/fw/OVMF_CODE.fd",
			"if=pflash,format=raw,file=/h/.installation-1/nvram",
			// A comma in a path is doubled, or it would start a new option.
			"if=none,id=medium,media=cdrom,readonly=on,format=raw,file=/c/virtdev,,1.iso",
			"if=none,id=system,format=qcow2,discard=unmap,file=/h/.installation-1/system.qcow2",
			"if=none,id=home,format=qcow2,discard=unmap,file=/h/.installation-1/home.qcow2",
		},
		"-device": {
			"ide-cd,drive=medium,bootindex=0",
			"virtio-blk-pci,drive=system",
			"virtio-blk-pci,drive=home",
			"virtio-net-pci,netdev=net0,romfile=,mac=" + egress.GuestMAC,
			"virtio-rng-pci,rng=rng0",
		},
		// The supervisor's network, outbound only: nothing reaches the
		// installer from the host.
		"-netdev": {"stream,id=net0,server=off,addr.type=fd,addr.str=3"},
		"-chardev": {
			"socket,id=qmp,server=on,wait=on,path=monitor.sock",
			"socket,id=events,server=on,wait=off,path=events.sock",
			"stdio,id=console,signal=off",
		},
		"-mon":     {"chardev=qmp,mode=control", "chardev=events,mode=control"},
		"-serial":  {"chardev:console"},
		"-display": {"none"},
		"-fw_cfg":  nil,
	} {
		if got := option(args, flag); !slices.Equal(got, want) {
			t.Errorf("%s %q, want %q", flag, got, want)
		}
	}
	for _, flag := range []string{"-nodefaults", "-no-user-config", "-no-reboot"} {
		if !slices.Contains(args, flag) {
			t.Errorf("%s is missing", flag)
		}
	}
}

func TestInstallErrorsSayWhatHappened(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&InstallExistsError{"/h/installation"}, "rm -r '/h/installation'"},
		{&InstallStoppedError{"host-signal"}, "stopped from outside (QEMU: host-signal)"},
		{&InstallCrashError{Exit: "signal: killed"}, "QEMU ended (signal: killed) without the installer powering the machine off"},
		{&InstallTimeoutError{90 * time.Minute}, "within 1h30m0s"},
		{&InstallSetupError{fs.ErrPermission}, "cannot prepare the installation: permission denied"},
	} {
		if got := tc.err.Error(); !strings.Contains(got, tc.want) {
			t.Errorf("%T says %q, want it to contain %q", tc.err, got, tc.want)
		}
	}
}

func TestInstallUnderKVMNamesTheCPU(t *testing.T) {
	f := newInstall(t, "poweroff")
	f.install.Accel, f.install.CPU = KVM, "host,-arch-capabilities"
	if err := f.install.Run(context.Background()); err != nil {
		t.Errorf("Run under KVM with VIRTDEV_CPU: %v", err)
	}
}

func TestInstallSweep(t *testing.T) {
	f := newInstall(t, "poweroff")
	for _, name := range []string{".installation-installer-1", ".installation-2", "projects"} {
		if err := os.MkdirAll(filepath.Join(f.home, name, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := f.install.Sweep()
	if err != nil || len(removed) != 1 || filepath.Base(removed[0]) != ".installation-installer-1" {
		t.Errorf("Sweep removed %q (%v), want the installer's scratch directory alone", removed, err)
	}
	if got := f.homeEntries(t); !slices.Equal(got, []string{".installation-2", "projects"}) {
		t.Errorf("after the sweep VIRTDEV_HOME holds %q; a bootstrap's scratch directory is virtdev-bootstrap's to judge", got)
	}
}
