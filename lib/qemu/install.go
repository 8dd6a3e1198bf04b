package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"virtdev/lib/config"
	"virtdev/lib/egress"
	"virtdev/lib/firmware"
	"virtdev/lib/fsutil"
	"virtdev/lib/guest"
	"virtdev/lib/image"
	"virtdev/lib/layout"
)

// InstallCommand is everything the installer machine's QEMU command line
// depends on. The installer machine is not a project machine: it boots an
// installation medium with two empty disks, has no SSH forward and no
// project name, and ends when the guest powers off or resets.
type InstallCommand struct {
	Binary       string // absolute path of qemu-system-x86_64
	Accel        string // KVM or TCG
	CPU          string // the processor model under KVM (VIRTDEV_CPU)
	MemoryMB     int
	CPUs         int
	FirmwareCode string // OVMF code image, mapped read-only
	NVRAM        string // the new base's variable store, writable
	Medium       string // the installation ISO, a read-only CD-ROM
	SystemImage  string
	HomeImage    string
	// Monitor is the QMP socket. QEMU waits for its first client before it
	// starts the machine, so no event can pass unseen.
	Monitor string
	// Events is the QMP socket of the machine's supervisor, which runs
	// the installer machine as it runs every machine.
	Events string
}

// Args is the full argv, program first. The serial console is QEMU's
// standard output.
func (c InstallCommand) Args() []string {
	args := machineArgs(c.Binary, "virtdev-installer", c.Accel, c.CPU, c.MemoryMB, c.CPUs, c.FirmwareCode, c.NVRAM)
	args = append(args,
		// The medium is the only boot device; the disks are empty.
		"-drive", "if=none,id=medium,media=cdrom,readonly=on,format=raw,file="+escape(c.Medium),
		"-device", "ide-cd,drive=medium,bootindex=0",
		"-drive", "if=none,id=system,format=qcow2,discard=unmap,file="+escape(c.SystemImage),
		"-device", "virtio-blk-pci,drive=system",
		"-drive", "if=none,id=home,format=qcow2,discard=unmap,file="+escape(c.HomeImage),
		"-device", "virtio-blk-pci,drive=home",
	)
	// The supervisor's network, in the maintenance zone, for the
	// installer's downloads; nothing is forwarded in.
	args = append(args, networkArgs()...)
	return append(args,
		"-object", "rng-random,id=rng0,filename=/dev/urandom",
		"-device", "virtio-rng-pci,rng=rng0",
		"-chardev", "socket,id=qmp,server=on,wait=on,path="+escape(c.Monitor),
		"-mon", "chardev=qmp,mode=control",
		"-chardev", "socket,id=events,server=on,wait=off,path="+escape(c.Events),
		"-mon", "chardev=events,mode=control",
		"-chardev", "stdio,id=console,signal=off",
		"-serial", "chardev:console",
		// An installer that fails reboots the machine; this ends QEMU with
		// a reset instead of booting the medium again.
		"-no-reboot",
	)
}

// InstallExistsError refuses to install over an installation.
type InstallExistsError struct{ Dir string }

func (e *InstallExistsError) Error() string {
	return fmt.Sprintf("an installation already exists: %s\nSeal it (virtdev-seal) or remove it (rm -r %s) before installing another.",
		e.Dir, guest.Quote(e.Dir))
}

// InstallSetupError is the installation's disks or variable store that
// could not be made.
type InstallSetupError struct{ Err error }

func (e *InstallSetupError) Error() string {
	return "cannot prepare the installation: " + e.Err.Error()
}
func (e *InstallSetupError) Unwrap() error { return e.Err }

// InstallFailedError is an installer that reset the machine instead of
// powering it off: the way it reports failure (virtdev's installer
// reboots when it fails, and -no-reboot turns that into QEMU's end).
type InstallFailedError struct{ Reason string }

func (e *InstallFailedError) Error() string {
	return fmt.Sprintf("the installation failed: the installer reset the machine instead of powering it off (QEMU: %s); its messages are above", e.Reason)
}

// InstallStoppedError is an installer machine stopped from outside, by a
// signal to QEMU or a quit over QMP, before the installer finished.
type InstallStoppedError struct{ Reason string }

func (e *InstallStoppedError) Error() string {
	return fmt.Sprintf("the installer machine was stopped from outside (QEMU: %s) before the installation finished", e.Reason)
}

// InstallCrashError is QEMU ending without a shutdown: it could not start
// the machine, or it crashed.
type InstallCrashError struct {
	Exit   string // how QEMU ended, e.g. "exit status 1"
	Output string // what QEMU printed on its standard error
}

func (e *InstallCrashError) Error() string {
	msg := "QEMU ended (" + e.Exit + ") without the installer powering the machine off"
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += ":\n" + out
	}
	return msg
}

// InstallTimeoutError is an installation that took longer than allowed;
// the machine was stopped.
type InstallTimeoutError struct{ After time.Duration }

func (e *InstallTimeoutError) Error() string {
	return fmt.Sprintf("the installation did not finish within %s; the installer machine was stopped", e.After)
}

// Install runs the installer machine once.
//
// The machine's supervisor runs as a child of the calling program, not as
// a systemd user unit as project machines do: an installation is a
// one-shot task that lives exactly as long as the command that shows its
// console, it must end when that command is interrupted, and it needs no
// user manager (so it also works where there is none). The supervisor
// gets SIGKILL if the caller dies, and QEMU dies with it. The supervisor
// gives the machine its network, in Zone, as for every machine: what the
// installer downloads and runs (VIRTDEV_SCRIPT) reaches no more than Zone
// allows.
type Install struct {
	QEMU string // absolute path of qemu-system-x86_64
	// Supervisor is the absolute path of virtdev-supervise; "" when it
	// is not installed, which Run refuses (*SetupError).
	Supervisor string
	Zone       egress.Zone // config.MaintenanceNet
	Accel      string      // KVM or TCG, as ChooseAccel resolved it
	CPU        string      // the processor model under KVM (VIRTDEV_CPU)
	MemoryMB   int
	CPUs       int
	Firmware   firmware.Pair
	Medium     string      // the installation ISO
	Dest       layout.Base // where the installation goes: installation/
	SystemSize config.Size // sizes of the empty disks
	HomeSize   config.Size
	Timeout    time.Duration // 0 waits as long as the installer takes
	Console    io.Writer     // the machine's serial console, as it comes
	Stage      func(format string, args ...any)
}

// Run makes empty disks and a fresh variable store, boots the medium, and
// succeeds only when the installer powers the machine off itself (QMP
// SHUTDOWN from the guest with reason guest-shutdown). The disks are made
// in a scratch directory beside Dest and renamed to Dest at the end, so
// Dest appears complete or not at all: on any failure, an interrupt
// included, nothing is left. It refuses when Dest exists.
func (in Install) Run(ctx context.Context) (err error) {
	if _, err := os.Lstat(in.Dest.Dir); err == nil {
		return &InstallExistsError{in.Dest.Dir}
	}
	if err := checkMedium(in.Medium); err != nil {
		return err
	}
	if err := checkDiskSizes(in.SystemSize, in.HomeSize); err != nil {
		return &InstallSetupError{err}
	}
	if in.Supervisor == "" {
		return &SetupError{"virtdev-supervise, which runs every machine and gives it its network, is not installed beside this program nor on PATH\n" +
			"Install virtdev whole (make install installs every program)."}
	}
	scratch, err := os.MkdirTemp(filepath.Dir(in.Dest.Dir), in.scratchPrefix())
	if err != nil {
		return &InstallSetupError{err}
	}
	defer func() {
		if err != nil {
			if rerr := os.RemoveAll(scratch); rerr != nil {
				err = errors.Join(err, fmt.Errorf("cannot remove the partial installation: %w\nRemove it: rm -rf %s", rerr, guest.Quote(scratch)))
			}
		}
	}()
	// The scratch directory is the installer machine's directory, where
	// its supervisor runs.
	machine := layout.MachineAt("installer", scratch)
	cmd := InstallCommand{
		Binary: in.QEMU, Accel: in.Accel, CPU: in.CPU, MemoryMB: in.MemoryMB, CPUs: in.CPUs,
		FirmwareCode: in.Firmware.Code,
		NVRAM:        filepath.Join(scratch, filepath.Base(in.Dest.NVRAM)),
		Medium:       in.Medium,
		SystemImage:  filepath.Join(scratch, filepath.Base(in.Dest.SystemImage)),
		HomeImage:    filepath.Join(scratch, filepath.Base(in.Dest.HomeImage)),
		// Relative to QEMU's working directory, the scratch directory: no
		// socket path length limit applies.
		Monitor: "monitor.sock",
		Events:  filepath.Base(machine.Events),
	}
	in.Stage("Creating empty disks: system %s, home %s", in.SystemSize, in.HomeSize)
	if err := image.Create(ctx, cmd.SystemImage, in.SystemSize.String()); err != nil {
		return &InstallSetupError{err}
	}
	if err := image.Create(ctx, cmd.HomeImage, in.HomeSize.String()); err != nil {
		return &InstallSetupError{err}
	}
	if err := fsutil.Copy(in.Firmware.Vars, cmd.NVRAM, 0o644); err != nil {
		return &InstallSetupError{fmt.Errorf("cannot copy the firmware variable store %s: %w", in.Firmware.Vars, err)}
	}
	in.Stage("Booting the installer from %s (%s); its console follows", in.Medium, in.Accel)
	if err := in.boot(ctx, cmd, scratch); err != nil {
		return err
	}
	// The supervisor's record of how the machine ended is the
	// installer's, not the base's.
	for _, name := range []string{cmd.Monitor, filepath.Base(machine.Shutdown)} {
		if err := os.Remove(filepath.Join(scratch, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &InstallSetupError{err}
		}
	}
	// The lock keeps other virtdev programs away; anything else that made
	// Dest meanwhile keeps it.
	if _, err := os.Lstat(in.Dest.Dir); err == nil {
		return &InstallExistsError{in.Dest.Dir}
	}
	if err := os.Rename(scratch, in.Dest.Dir); err != nil {
		return &InstallSetupError{fmt.Errorf("cannot move the installation into place: %w", err)}
	}
	return nil
}

// scratchPrefix starts the name of the scratch directory an installation
// is made in: beside Dest, named after it as every builder of an
// installation names its scratch (".installation-"), then "installer-",
// which tells this one's apart.
func (in Install) scratchPrefix() string {
	return "." + filepath.Base(in.Dest.Dir) + "-installer-"
}

// Sweep removes the scratch directories that installations killed on the
// way (SIGKILL, a crash) left, and returns them. The caller holds the base
// lock exclusively, so no installation is under way.
func (in Install) Sweep() ([]string, error) {
	parent := filepath.Dir(in.Dest.Dir)
	entries, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), in.scratchPrefix()) {
			continue
		}
		path := filepath.Join(parent, e.Name())
		if err := os.RemoveAll(path); err != nil {
			return removed, fmt.Errorf("cannot remove %s, left by an interrupted installation: %w", path, err)
		}
		removed = append(removed, path)
	}
	return removed, nil
}

func checkMedium(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return &MissingFileError{"installation medium", path}
	}
	if err == nil && info.IsDir() {
		err = errors.New("a directory, not an ISO image")
	}
	if err == nil {
		var f *os.File
		if f, err = os.Open(path); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return &InstallSetupError{fmt.Errorf("cannot use the installation medium %s: %w", path, err)}
	}
	return nil
}

// checkDiskSizes holds the disks to what the base's layout needs, as the
// Debian base's build does.
func checkDiskSizes(system, home config.Size) error {
	if _, err := guest.SystemDisk(int64(system)); err != nil {
		return fmt.Errorf("VIRTDEV_SYSTEM_DISK_SIZE=%s: %w", system, err)
	}
	if _, err := guest.HomeDisk(int64(home)); err != nil {
		return fmt.Errorf("VIRTDEV_HOME_DISK_SIZE=%s: %w", home, err)
	}
	return nil
}

// boot runs the machine's supervisor, and QEMU under it, in dir until the
// machine ends and says how it ended.
func (in Install) boot(ctx context.Context, c InstallCommand, dir string) error {
	args := append([]string{in.Supervisor, "--net=" + string(in.Zone), "--"}, c.Args()...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout = in.Console
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// Its own process group: a Ctrl-C reaches this program, which stops
	// the machine itself and cleans up. Pdeathsig ends the supervisor,
	// and QEMU with it, if this program dies. The supervisor passes
	// SIGTERM on to QEMU.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return &InstallCrashError{Exit: "not started: " + err.Error()}
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	crash := func(waitErr error) error {
		return &InstallCrashError{Exit: exitText(waitErr), Output: stderr.String()}
	}

	mon, waitErr, done, err := connect(ctx, filepath.Join(dir, c.Monitor), exited)
	if err != nil {
		waitErr := stop(cmd, exited)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.Join(err, crash(waitErr))
	}
	if done {
		return crash(waitErr)
	}

	var timeout <-chan time.Time
	if in.Timeout > 0 {
		timer := time.NewTimer(in.Timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	var stopped error // why this program stopped QEMU, when it did
	select {
	case waitErr = <-exited:
	case <-ctx.Done():
		stopped = ctx.Err()
		waitErr = stop(cmd, exited)
	case <-timeout:
		stopped = &InstallTimeoutError{in.Timeout}
		waitErr = stop(cmd, exited)
	}
	event := mon.Finish(time.Second)
	switch {
	case stopped != nil:
		return stopped
	case event == nil:
		return crash(waitErr)
	case event.Guest && event.Reason == "guest-shutdown":
		return nil
	case event.Guest:
		return &InstallFailedError{event.Reason}
	}
	return &InstallStoppedError{event.Reason}
}

// connect waits for QEMU's QMP socket and connects to it; QEMU starts the
// machine only then. done is true when QEMU exited first, with waitErr
// telling how.
func connect(ctx context.Context, path string, exited <-chan error) (mon *Monitor, waitErr error, done bool, err error) {
	deadline := time.NewTimer(ReadyDeadline)
	defer deadline.Stop()
	for {
		// Following the events: the installer's SHUTDOWN tells how it ended.
		if mon, err := DialEvents(ctx, path, time.Second, func(Event) {}); err == nil {
			return mon, nil, false, nil
		}
		select {
		case waitErr := <-exited:
			return nil, waitErr, true, nil
		case <-ctx.Done():
			return nil, nil, false, ctx.Err()
		case <-deadline.C:
			return nil, nil, false, fmt.Errorf("QEMU did not open its QMP socket %s within %s", path, ReadyDeadline)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends QEMU: SIGTERM, which it answers with a SHUTDOWN event and an
// exit, then SIGKILL after KillGrace. It returns how QEMU ended.
func stop(cmd *exec.Cmd, exited <-chan error) error {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		return err
	case <-time.After(KillGrace):
	}
	cmd.Process.Kill()
	return <-exited
}

func exitText(err error) string {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &exit):
		return exit.ProcessState.String()
	}
	return err.Error()
}
