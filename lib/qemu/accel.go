package qemu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"virtdev/lib/config"
)

// Accelerators QEMU runs a machine with.
const (
	KVM = "kvm"
	TCG = "tcg"
)

// kvmDevice is where the kernel offers KVM.
const kvmDevice = "/dev/kvm"

// KVMUsable tells whether this process could run a KVM machine, and why
// not.
func KVMUsable() error {
	f, err := os.OpenFile(kvmDevice, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// AccelError is a request for KVM that this host cannot honour.
type AccelError struct {
	Err error
	Fix string // how to make KVM usable, from kvmFix
}

func (e *AccelError) Error() string {
	return fmt.Sprintf("VIRTDEV_ACCEL=kvm, but %s is not usable: %v\n%s\nor run under emulation instead: VIRTDEV_ACCEL=tcg (or auto)", kvmDevice, unwrapPath(e.Err), e.Fix)
}

func (e *AccelError) Unwrap() error { return e.Err }

// ChooseAccel resolves VIRTDEV_ACCEL (auto, kvm or tcg) against what the
// host offers. warning is non-empty when auto had to fall back to TCG; it
// says how to make KVM usable, and how to silence it.
func ChooseAccel(requested string, kvmUsable func() error) (accel, warning string, err error) {
	switch requested {
	case config.AccelTCG:
		return TCG, "", nil
	case config.AccelKVM:
		if err := kvmUsable(); err != nil {
			return "", "", &AccelError{Err: err, Fix: kvmFix(err, os.Stat)}
		}
		return KVM, "", nil
	}
	if err := kvmUsable(); err != nil {
		return TCG, fmt.Sprintf("%s is not usable (%v): running under TCG emulation, several times slower\n%s;\nor keep emulation and silence this warning: VIRTDEV_ACCEL=tcg",
			kvmDevice, unwrapPath(err), kvmFix(err, os.Stat)), nil
	}
	return KVM, "", nil
}

// kvmFix says how to make /dev/kvm usable, from why it is not.
func kvmFix(err error, stat func(string) (fs.FileInfo, error)) string {
	if !errors.Is(err, fs.ErrPermission) {
		return "To use KVM, enable virtualisation in the firmware settings and load the module (modprobe kvm_intel or kvm_amd)"
	}
	info, serr := stat(kvmDevice)
	st, ok := info.Sys().(*syscall.Stat_t)
	if serr != nil || !ok {
		return "To use KVM, join the group that owns " + kvmDevice + " (usually: sudo usermod -aG kvm $USER), then log in again"
	}
	group := strconv.Itoa(int(st.Gid))
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	if st.Gid == 0 || info.Mode().Perm()&0o060 != 0o060 {
		return fmt.Sprintf("To use KVM, %s (mode %04o, group %s) must be open to a group of yours: usually the kvm group, mode 0660 (ask your administrator; udev's rules for QEMU do that), then join that group (sudo usermod -aG kvm $USER) and log in again",
			kvmDevice, info.Mode().Perm(), group)
	}
	return fmt.Sprintf("To use KVM, join the group %s that owns %s (sudo usermod -aG %s $USER), then log in again for it to take effect", group, kvmDevice, group)
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
