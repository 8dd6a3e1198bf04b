// Package qemu runs virtdev machines: the QEMU command line, the choice of
// accelerator, the QMP connection, and a machine's life as a systemd user
// unit. A machine is started by Start and stopped by Stop; in between its
// supervisor (Supervise, run by virtdev-supervise as the unit's main
// process) runs QEMU, follows it over QMP and records how it ended. What
// QEMU's run state means, why a machine is paused and the record of its
// end are package runstate's, which the programs that only look at
// machines use without this package.
package qemu

import (
	"strconv"
	"strings"

	"virtdev/lib/fwcfg"
)

// Command is everything a machine's QEMU command line depends on.
//
// QEMU runs in the machine's directory, and binds its sockets there by
// the names Monitor, Console and Events, and writes PidFile: relative
// names, so that the length of the directory's path never meets the
// limit of a socket address (see lib/unixsock).
type Command struct {
	Binary       string // absolute path of qemu-system-x86_64
	Name         string // machine name, handed to the guest through fw_cfg
	Accel        string // KVM or TCG
	CPU          string // the -cpu model under KVM (VIRTDEV_CPU)
	MemoryMB     int
	CPUs         int
	FirmwareCode string // OVMF code image, mapped read-only
	NVRAM        string // the machine's own variable store, writable
	SystemImage  string
	HomeImage    string
	// HostKey is the private half of the guest's SSH host key, handed to
	// the guest through fw_cfg: only the guest's root can read it there.
	HostKey string

	Monitor string // QMP socket for virtdev's programs and the user
	Console string // serial console socket
	Events  string // QMP socket for the supervisor alone
	PidFile string
	// Report, when set, is a file that receives what the guest writes to
	// its virtio serial port named ReportPort.
	Report string
}

// ReportPort names the guest's report port: the guest writes to
// /dev/virtio-ports/<ReportPort>, and the host reads the Report file once
// QEMU has ended. It is a channel that outlives the guest's network: the
// maintenance machine reports through it while it powers off.
const ReportPort = "org.virtdev.report"

// Args is the full argv, program first.
func (c Command) Args() []string {
	args := machineArgs(c.Binary, "virtdev-"+c.Name, c.Accel, c.CPU, c.MemoryMB, c.CPUs, c.FirmwareCode, c.NVRAM)
	args = append(args,
		// The system disk is the only boot device, so the firmware goes
		// straight to it instead of trying the network first.
		"-drive", "if=none,id=system,format=qcow2,discard=unmap,file="+escape(c.SystemImage),
		"-device", "virtio-blk-pci,drive=system,bootindex=0",
		"-drive", "if=none,id=home,format=qcow2,discard=unmap,file="+escape(c.HomeImage),
		"-device", "virtio-blk-pci,drive=home",
	)
	// The network is the supervisor's (see Network), which also forwards
	// the guest's SSH from the host's loopback.
	args = append(args, networkArgs()...)
	args = append(args,
		"-object", "rng-random,id=rng0,filename=/dev/urandom",
		"-device", "virtio-rng-pci,rng=rng0",
		// A guest kernel that panics tells QEMU through pvpanic, and QEMU
		// then pauses the machine instead of leaving a dead guest that
		// looks busy: its status reads guest-panicked, which
		// virtdev-wait and virtdev-stop report at once, and the panic
		// stays on the serial console for the user to read.
		"-device", "pvpanic",
		"-action", "panic=pause",
		"-chardev", "socket,id=qmp,server=on,wait=off,path="+escape(c.Monitor),
		"-mon", "chardev=qmp,mode=control",
		// The supervisor's own monitor: QEMU serves one client per
		// monitor, so users of the other one never keep it from QEMU's
		// events, nor it from them.
		"-chardev", "socket,id=events,server=on,wait=off,path="+escape(c.Events),
		"-mon", "chardev=events,mode=control",
		"-chardev", "socket,id="+ConsoleChardev+",server=on,wait=off,path="+escape(c.Console),
		"-serial", "chardev:"+ConsoleChardev,
		"-pidfile", c.PidFile,
		"-fw_cfg", "name="+fwcfg.ProjectName+",string="+escape(c.Name),
		"-fw_cfg", "name="+fwcfg.HostKey+",file="+escape(c.HostKey),
	)
	if c.Report != "" {
		args = append(args,
			"-device", "virtio-serial-pci,id=reportbus",
			"-chardev", "file,id=report,path="+escape(c.Report),
			"-device", "virtserialport,bus=reportbus.0,chardev=report,name="+ReportPort,
		)
	}
	return args
}

// ConsoleChardev is the id of the serial console's character device, by
// which QMP reports whether someone is attached to it.
const ConsoleChardev = "console"

// machineArgs starts the command line of every virtdev machine: its name,
// the accelerator, memory and CPUs, and the UEFI firmware with the
// machine's own variable store.
func machineArgs(binary, name, accel, cpu string, memoryMB, cpus int, firmwareCode, nvram string) []string {
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
		args = append(args, "-cpu", cpu)
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
