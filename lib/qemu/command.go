// Package qemu runs virtdev machines: the QEMU command line, the choice of
// accelerator, the QMP connection, and starting and stopping a machine as a
// systemd user unit (see Start and Stop).
package qemu

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"virtdev/lib/config"
	"virtdev/lib/guest"
)

// Accelerators QEMU runs a machine with.
const (
	KVM = "kvm"
	TCG = "tcg"
)

// Command is everything a machine's QEMU command line depends on.
type Command struct {
	Binary       string // absolute path of qemu-system-x86_64
	Name         string // machine name, handed to the guest through fw_cfg
	Accel        string // KVM or TCG
	MemoryMB     int
	CPUs         int
	FirmwareCode string // OVMF code image, mapped read-only
	NVRAM        string // the machine's own variable store, writable
	SystemImage  string
	HomeImage    string
	Port         int // host port on 127.0.0.1 forwarded to the guest's SSH
	Monitor      string
	Console      string
}

// Args is the full argv, program first.
func (c Command) Args() []string {
	args := machineArgs(c.Binary, "virtdev-"+c.Name, c.Accel, c.MemoryMB, c.CPUs, c.FirmwareCode, c.NVRAM)
	args = append(args,
		// The system disk is the only boot device, so the firmware goes
		// straight to it instead of trying the network first.
		"-drive", "if=none,id=system,format=qcow2,discard=unmap,file="+escape(c.SystemImage),
		"-device", "virtio-blk-pci,drive=system,bootindex=0",
		"-drive", "if=none,id=home,format=qcow2,discard=unmap,file="+escape(c.HomeImage),
		"-device", "virtio-blk-pci,drive=home",
		// The forward listens on loopback only: the guest's SSH is
		// never reachable from the network.
		"-netdev", fmt.Sprintf("user,id=net0,hostfwd=tcp:127.0.0.1:%d-:22", c.Port),
		// No option ROM: nothing boots from the network.
		"-device", "virtio-net-pci,netdev=net0,romfile=",
		"-object", "rng-random,id=rng0,filename=/dev/urandom",
		"-device", "virtio-rng-pci,rng=rng0",
		"-chardev", "socket,id=qmp,server=on,wait=off,path="+escape(c.Monitor),
		"-mon", "chardev=qmp,mode=control",
		"-chardev", "socket,id=console,server=on,wait=off,path="+escape(c.Console),
		"-serial", "chardev:console",
		"-fw_cfg", "name="+guest.FirmwareProjectName+",string="+escape(c.Name),
	)
	return args
}

// machineArgs starts the command line of every virtdev machine: its name,
// the accelerator, memory and CPUs, and the UEFI firmware with the
// machine's own variable store.
func machineArgs(binary, name, accel string, memoryMB, cpus int, firmwareCode, nvram string) []string {
	args := []string{binary,
		"-name", name,
		// No default devices (VGA, NIC, CD-ROM, parallel port, HMP
		// monitor on stdio): everything the machine has is listed here.
		"-nodefaults",
		"-no-user-config",
		"-display", "none",
		"-machine", "q35",
		"-accel", accel,
	}
	if accel == KVM {
		args = append(args, "-cpu", "host")
	}
	return append(args,
		"-m", strconv.Itoa(memoryMB),
		"-smp", strconv.Itoa(cpus),
		"-drive", "if=pflash,format=raw,readonly=on,file="+escape(firmwareCode),
		"-drive", "if=pflash,format=raw,file="+escape(nvram),
	)
}

// escape protects a value inside a QEMU option list, where a comma would
// start the next option.
func escape(v string) string { return strings.ReplaceAll(v, ",", ",,") }

// KVMUsable tells whether this process could run a KVM machine, and why
// not.
func KVMUsable() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// AccelError is a request for KVM that this host cannot honour.
type AccelError struct{ Err error }

func (e *AccelError) Error() string {
	fix := "Enable virtualisation in the firmware and load the module (modprobe kvm_intel or kvm_amd)"
	if errors.Is(e.Err, os.ErrPermission) {
		fix = "Join the group that owns /dev/kvm (usually: sudo usermod -aG kvm $USER, then log in again)"
	}
	return fmt.Sprintf("VIRTDEV_ACCEL=kvm, but /dev/kvm is not usable: %v\n%s,\nor run under emulation instead: VIRTDEV_ACCEL=tcg (or auto)", e.Err, fix)
}

func (e *AccelError) Unwrap() error { return e.Err }

// ChooseAccel resolves VIRTDEV_ACCEL (auto, kvm or tcg) against what the
// host offers. warning is non-empty when auto had to fall back to TCG.
func ChooseAccel(requested string, kvmUsable func() error) (accel, warning string, err error) {
	switch requested {
	case config.AccelTCG:
		return TCG, "", nil
	case config.AccelKVM:
		if err := kvmUsable(); err != nil {
			return "", "", &AccelError{err}
		}
		return KVM, "", nil
	}
	if err := kvmUsable(); err != nil {
		return TCG, fmt.Sprintf("/dev/kvm is not usable (%v): running under TCG emulation, much slower (VIRTDEV_ACCEL=tcg silences this)", unwrapPath(err)), nil
	}
	return KVM, "", nil
}

// unwrapPath drops the path from an *os.PathError, which the message
// already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
