// Package runstate tells what QEMU says of a machine's guest, as the
// programs that read it need it: QEMU's run state (query-status), asked
// over a raw exchange on the machine's monitor (StatusQuestion); why a
// machine QEMU paused is paused (Examine, Condition); and how its last
// run ended, from the record its supervisor leaves (Shutdown).
//
// Package qemu, which starts, supervises, stops and continues machines,
// uses it for the same. It stays apart from qemu so that the programs
// that only look at machines (status, list) link neither go-qemu nor
// package net, whose initialisation would be a good part of their run.
package runstate

import "virtdev/lib/layout"

// RunState is QEMU's word for the state of a machine, as QMP's
// query-status reports it.
type RunState string

// The states virtdev acts on; QEMU has more, all of them passing.
const (
	StateRunning RunState = "running"
	// StateInternalError: a virtual CPU met something QEMU cannot
	// handle; under KVM often a processor model the host cannot run.
	StateInternalError RunState = "internal-error"
	// StateGuestPanicked: the guest's kernel panicked and said so
	// through the pvpanic device; QEMU paused the machine.
	StateGuestPanicked RunState = "guest-panicked"
	// StateIOError: a disk write failed, typically on a full host file
	// system; QEMU paused the machine until it is continued.
	StateIOError RunState = "io-error"
	// StatePaused: someone stopped the machine over QMP.
	StatePaused RunState = "paused"
	// StateShutdown: the guest has powered off and QEMU is exiting.
	StateShutdown RunState = "shutdown"
	// StateSuspended: the guest put itself to sleep (ACPI S3).
	StateSuspended RunState = "suspended"
)

// Failed reports a machine whose guest cannot go on: nothing but a new
// start brings it back.
func (s RunState) Failed() bool { return s == StateInternalError || s == StateGuestPanicked }

// Halted reports a machine that QEMU paused and that runs again once
// continued.
func (s RunState) Halted() bool { return s == StateIOError || s == StatePaused }

// Explain says what the state means, for messages.
func (s RunState) Explain(name string) string {
	switch s {
	case StateInternalError:
		return "a virtual CPU met an error QEMU cannot handle (under KVM, often a processor model the host cannot give the guest: see VIRTDEV_CPU, or run under emulation with VIRTDEV_ACCEL=tcg); QEMU's messages: journalctl --user -u " + layout.Unit(name)
	case StateGuestPanicked:
		return "the guest's kernel panicked (QEMU keeps such a machine paused, the panic on its serial console, until it is stopped: virtdev-console " + name + ")"
	case StateIOError:
		return "a write to one of its disks failed, usually because the host file system under it is full"
	case StatePaused:
		return "someone paused it through its monitor (QMP stop)"
	case StateShutdown:
		return "the guest has powered off and QEMU is ending"
	case StateSuspended:
		return "the guest put itself to sleep; wake it from its monitor: virtdev-monitor " + name + " system_wakeup"
	}
	return "QEMU reports it " + string(s)
}
