package qemu

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"virtdev/lib/config"
	"virtdev/lib/egress"
)

func testCommand(accel string) Command {
	return Command{
		Binary: "/usr/bin/qemu-system-x86_64", Name: "web", Accel: accel, CPU: "host,-arch-capabilities",
		MemoryMB: 1024, CPUs: 2, FirmwareCode: "/fw/OVMF_CODE.fd", NVRAM: "/p/nvram",
		SystemImage: "/p/system.qcow2", HomeImage: "/p/home.qcow2", HostKey: "ssh_host_ed25519_key",
		Monitor: "monitor.sock", Console: "console.sock", Events: "events.sock", PidFile: "qemu.pid",
	}
}

// option returns the values following every occurrence of flag.
func option(args []string, flag string) []string {
	var out []string
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			out = append(out, args[i+1])
		}
	}
	return out
}

func TestArgsKVM(t *testing.T) {
	args := testCommand(KVM).Args()
	if args[0] != "/usr/bin/qemu-system-x86_64" {
		t.Errorf("argv[0] = %q", args[0])
	}
	if got := option(args, "-accel"); !slices.Equal(got, []string{"kvm"}) {
		t.Errorf("-accel %v", got)
	}
	if got := option(args, "-cpu"); !slices.Equal(got, []string{"host,-arch-capabilities"}) {
		t.Errorf("-cpu %v, want VIRTDEV_CPU's host,-arch-capabilities under KVM", got)
	}
}

func TestArgsTCG(t *testing.T) {
	args := testCommand(TCG).Args()
	if got := option(args, "-accel"); !slices.Equal(got, []string{"tcg"}) {
		t.Errorf("-accel %v", got)
	}
	if got := option(args, "-cpu"); got != nil {
		t.Errorf("-cpu %v under TCG; host exists only with KVM", got)
	}
}

func TestArgsMachine(t *testing.T) {
	args := testCommand(TCG).Args()
	for flag, want := range map[string][]string{
		"-machine": {"q35"},
		"-m":       {"1024"},
		"-smp":     {"2"},
		"-display": {"none"},
		"-fw_cfg": {
			"name=opt/virtdev/project,string=web",
			// The private half of the host key, by its name in the
			// machine's directory.
			"name=opt/virtdev/ssh_host_ed25519_key,file=ssh_host_ed25519_key",
		},
		"-drive": {
			"if=pflash,format=raw,readonly=on,file=/fw/OVMF_CODE.fd",
			"if=pflash,format=raw,file=/p/nvram",
			"if=none,id=system,format=qcow2,discard=unmap,file=/p/system.qcow2",
			"if=none,id=home,format=qcow2,discard=unmap,file=/p/home.qcow2",
		},
		// Sockets by names relative to the machine's directory, where
		// QEMU runs: no socket address limit applies to their paths.
		"-chardev": {
			"socket,id=qmp,server=on,wait=off,path=monitor.sock",
			"socket,id=events,server=on,wait=off,path=events.sock",
			"socket,id=console,server=on,wait=off,path=console.sock",
		},
		"-mon":     {"chardev=qmp,mode=control", "chardev=events,mode=control"},
		"-serial":  {"chardev:console"},
		"-pidfile": {"qemu.pid"},
		// A panicked guest stays, paused, for the user to inspect.
		"-action": {"panic=pause"},
	} {
		if got := option(args, flag); !slices.Equal(got, want) {
			t.Errorf("%s %q, want %q", flag, got, want)
		}
	}
	if !slices.Contains(args, "-nodefaults") {
		t.Error("no -nodefaults: QEMU would add a VGA card, a NIC and a monitor on stdio")
	}
	devices := option(args, "-device")
	for _, d := range []string{
		"virtio-blk-pci,drive=system,bootindex=0", // the only boot device
		"virtio-blk-pci,drive=home",
		// No network boot; the MAC DHCP gives the guest's address to.
		"virtio-net-pci,netdev=net0,romfile=,mac=" + egress.GuestMAC,
		"virtio-rng-pci,rng=rng0",
		"pvpanic",
	} {
		if !slices.Contains(devices, d) {
			t.Errorf("-device %s missing from %q", d, devices)
		}
	}
}

// The machine's only network is the supervisor's, on the socket QEMU
// inherits: no user-mode networking, whose gateway reaches the host's
// loopback.
func TestArgsNetworkIsTheSupervisors(t *testing.T) {
	netdevs := option(testCommand(TCG).Args(), "-netdev")
	if !slices.Equal(netdevs, []string{"stream,id=net0,server=off,addr.type=fd,addr.str=3"}) {
		t.Errorf("netdevs %q, want only the stream on descriptor 3", netdevs)
	}
}

func TestArgsEscapeCommas(t *testing.T) {
	c := testCommand(TCG)
	c.SystemImage = "/home/a,b/system.qcow2"
	c.Name = "a,b"
	args := c.Args()
	if !slices.Contains(option(args, "-drive"), "if=none,id=system,format=qcow2,discard=unmap,file=/home/a,,b/system.qcow2") {
		t.Errorf("comma in a disk path not doubled: %q", option(args, "-drive"))
	}
	if !slices.Contains(option(args, "-fw_cfg"), "name=opt/virtdev/project,string=a,,b") {
		t.Errorf("comma in the name not doubled: %q", option(args, "-fw_cfg"))
	}
}

func TestChooseAccel(t *testing.T) {
	usable := func() error { return nil }
	missing := func() error { return &os.PathError{Op: "open", Path: "/dev/kvm", Err: os.ErrNotExist} }
	for _, c := range []struct {
		requested string
		kvm       func() error
		want      string
		warns     bool
		fails     bool
	}{
		{config.AccelAuto, usable, KVM, false, false},
		{config.AccelAuto, missing, TCG, true, false},
		{config.AccelKVM, usable, KVM, false, false},
		{config.AccelKVM, missing, "", false, true},
		{config.AccelTCG, usable, TCG, false, false},
		{config.AccelTCG, missing, TCG, false, false},
	} {
		got, warning, err := ChooseAccel(c.requested, c.kvm)
		if got != c.want || (warning != "") != c.warns || (err != nil) != c.fails {
			t.Errorf("ChooseAccel(%s) = %q, %q, %v", c.requested, got, warning, err)
		}
		if c.warns && (!strings.Contains(warning, "VIRTDEV_ACCEL=tcg") || !strings.Contains(warning, "modprobe")) {
			t.Errorf("the warning does not say how to use KVM and how to silence it: %q", warning)
		}
		var ae *AccelError
		if c.fails && (!errors.As(err, &ae) || !strings.Contains(err.Error(), "VIRTDEV_ACCEL=tcg")) {
			t.Errorf("KVM refusal does not offer TCG: %v", err)
		}
	}
}

// The fallback's advice fits why /dev/kvm is unusable: a group to join,
// or a device no group may use.
func TestKVMFix(t *testing.T) {
	denied := &os.PathError{Op: "open", Path: "/dev/kvm", Err: os.ErrPermission}
	stat := func(mode os.FileMode, gid uint32) func(string) (fs.FileInfo, error) {
		return func(string) (fs.FileInfo, error) { return fakeDevice{mode: mode, gid: gid}, nil }
	}
	if got := kvmFix(denied, stat(0o660, 4242)); !strings.Contains(got, "join the group 4242") || !strings.Contains(got, "log in again") {
		t.Errorf("group-open device: %q", got)
	}
	if got := kvmFix(denied, stat(0o600, 0)); !strings.Contains(got, "mode 0600") || !strings.Contains(got, "administrator") {
		t.Errorf("root-only device: %q", got)
	}
	missing := &os.PathError{Op: "open", Path: "/dev/kvm", Err: os.ErrNotExist}
	if got := kvmFix(missing, stat(0, 0)); !strings.Contains(got, "modprobe kvm_intel") {
		t.Errorf("missing device: %q", got)
	}
}

type fakeDevice struct {
	mode os.FileMode
	gid  uint32
}

func (d fakeDevice) Name() string       { return "kvm" }
func (d fakeDevice) Size() int64        { return 0 }
func (d fakeDevice) Mode() os.FileMode  { return d.mode | os.ModeDevice | os.ModeCharDevice }
func (d fakeDevice) ModTime() time.Time { return time.Time{} }
func (d fakeDevice) IsDir() bool        { return false }
func (d fakeDevice) Sys() any           { return &syscall.Stat_t{Gid: d.gid} }

func TestArgsReport(t *testing.T) {
	for _, d := range option(testCommand(TCG).Args(), "-device") {
		if strings.HasPrefix(d, "virtserialport") || strings.HasPrefix(d, "virtio-serial") {
			t.Errorf("a machine started without a report port has -device %s", d)
		}
	}
	c := testCommand(TCG)
	c.Report = "report,x"
	args := c.Args()
	if got := option(args, "-chardev"); !slices.Contains(got, "file,id=report,path=report,,x") {
		t.Errorf("-chardev %q: no file backend for the report port, or its comma unescaped", got)
	}
	devices := option(args, "-device")
	for _, d := range []string{"virtio-serial-pci,id=reportbus", "virtserialport,bus=reportbus.0,chardev=report,name=" + ReportPort} {
		if !slices.Contains(devices, d) {
			t.Errorf("-device %s missing from %q", d, devices)
		}
	}
}
