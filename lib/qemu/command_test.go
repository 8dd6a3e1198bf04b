package qemu

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/config"
)

func testCommand(accel string) Command {
	return Command{
		Binary: "/usr/bin/qemu-system-x86_64", Name: "web", Accel: accel, MemoryMB: 1024, CPUs: 2,
		FirmwareCode: "/fw/OVMF_CODE.fd", NVRAM: "/p/nvram",
		SystemImage: "/p/system.qcow2", HomeImage: "/p/home.qcow2", Port: 2223,
		Monitor: "/p/monitor.sock", Console: "/p/console.sock",
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
	if got := option(args, "-cpu"); !slices.Equal(got, []string{"host"}) {
		t.Errorf("-cpu %v, want host under KVM", got)
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
		"-fw_cfg":  {"name=opt/virtdev/project,string=web"},
		"-drive": {
			"if=pflash,format=raw,readonly=on,file=/fw/OVMF_CODE.fd",
			"if=pflash,format=raw,file=/p/nvram",
			"if=none,id=system,format=qcow2,discard=unmap,file=/p/system.qcow2",
			"if=none,id=home,format=qcow2,discard=unmap,file=/p/home.qcow2",
		},
		"-chardev": {
			"socket,id=qmp,server=on,wait=off,path=/p/monitor.sock",
			"socket,id=console,server=on,wait=off,path=/p/console.sock",
		},
		"-mon":    {"chardev=qmp,mode=control"},
		"-serial": {"chardev:console"},
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
		"virtio-net-pci,netdev=net0,romfile=", // no network boot
		"virtio-rng-pci,rng=rng0",
	} {
		if !slices.Contains(devices, d) {
			t.Errorf("-device %s missing from %q", d, devices)
		}
	}
}

func TestArgsForwardOnLoopbackOnly(t *testing.T) {
	netdevs := option(testCommand(TCG).Args(), "-netdev")
	if len(netdevs) != 1 {
		t.Fatalf("netdevs %q, want exactly one", netdevs)
	}
	var forwards []string
	for _, opt := range strings.Split(netdevs[0], ",") {
		if v, ok := strings.CutPrefix(opt, "hostfwd="); ok {
			forwards = append(forwards, v)
		}
	}
	if !slices.Equal(forwards, []string{"tcp:127.0.0.1:2223-:22"}) {
		t.Errorf("forwards %q, want only tcp:127.0.0.1:2223-:22", forwards)
	}
}

func TestArgsEscapeCommas(t *testing.T) {
	c := testCommand(TCG)
	c.SystemImage = "/home/a,b/system.qcow2"
	c.Monitor = "/home/a,b/monitor.sock"
	args := c.Args()
	if !slices.Contains(option(args, "-drive"), "if=none,id=system,format=qcow2,discard=unmap,file=/home/a,,b/system.qcow2") {
		t.Errorf("comma in a disk path not doubled: %q", option(args, "-drive"))
	}
	if !slices.Contains(option(args, "-chardev"), "socket,id=qmp,server=on,wait=off,path=/home/a,,b/monitor.sock") {
		t.Errorf("comma in a socket path not doubled: %q", option(args, "-chardev"))
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
		if strings.Contains(warning, "\n") {
			t.Errorf("warning spans lines: %q", warning)
		}
		var ae *AccelError
		if c.fails && (!errors.As(err, &ae) || !strings.Contains(err.Error(), "VIRTDEV_ACCEL=tcg")) {
			t.Errorf("KVM refusal does not offer TCG: %v", err)
		}
	}
}
