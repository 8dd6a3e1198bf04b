package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"virtdev/lib/config"
	"virtdev/lib/egress"
	"virtdev/lib/firmware"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/unit"
)

// ReadyDeadline bounds the time QEMU takes to answer on QMP once started:
// by then it has opened the disks, bound the SSH port and built the
// machine, which takes well under a second on an idle host.
const ReadyDeadline = 15 * time.Second

// startSlack is what systemd allows a start beyond ReadyDeadline, which
// the supervisor enforces itself: systemd's own timeout is only for a
// supervisor that cannot.
const startSlack = 10 * time.Second

// Units is what starting and stopping a machine need of the systemd user
// manager; *unit.Manager is one, and tests give a fake.
type Units interface {
	UnitWatcher
	StartTransient(ctx context.Context, unit string, t unit.Transient) error
	ResetFailed(ctx context.Context, unit string) error
	Kill(ctx context.Context, unit string, sig syscall.Signal) error
}

// StartOptions is what starting a machine needs besides the machine.
type StartOptions struct {
	Port     int // 0 picks the lowest free port from FirstPort
	MemoryMB int
	CPUs     int
	Accel    string // KVM or TCG, as ChooseAccel resolved it
	CPU      string // the -cpu model under KVM
	// RetryTCG retries under TCG, once, a start under KVM that QEMU did
	// not survive (VIRTDEV_ACCEL=auto).
	RetryTCG   bool
	Firmware   firmware.Pair
	QEMU       string // absolute path of qemu-system-x86_64
	Supervisor string // absolute path of virtdev-supervise
	// Zone is the network zone the machine runs in: what its guest may
	// reach beyond its SSH forward (a project's comes from virtdev-start,
	// the maintenance machine's from config.MaintenanceNet).
	Zone egress.Zone
	// Report gives the machine a report port whose output goes to the
	// machine's Report file (see Command.Report).
	Report bool
	// Warn tells people about a start that goes on differently than
	// asked; nil says nothing.
	Warn func(format string, args ...any)
}

// HostOptions resolves the host side of a start from the configuration:
// QEMU, the firmware and the accelerator. warning is non-empty when the
// machine will run under emulation without having asked to.
func HostOptions(c *config.Config, getenv func(string) string) (o StartOptions, warning string, err error) {
	binary, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return o, "", &SetupError{"qemu-system-x86_64 not found in PATH\n" +
			"Install QEMU: apt install qemu-system-x86 (Debian/Ubuntu), pacman -S qemu-base (Arch), dnf install qemu-system-x86 (Fedora)"}
	}
	if binary, err = filepath.Abs(binary); err != nil {
		return o, "", err
	}
	pair, err := firmware.Discover(firmware.HostEnvironment(getenv))
	if err != nil {
		return o, "", err
	}
	accel, warning, err := ChooseAccel(c.Accel, KVMUsable)
	if err != nil {
		return o, "", err
	}
	return StartOptions{
		MemoryMB: c.MemoryMB, CPUs: c.CPUs, Accel: accel, CPU: c.CPU,
		RetryTCG: c.Accel == config.AccelAuto,
		Firmware: pair, QEMU: binary,
	}, warning, nil
}

// CheckFiles refuses a machine that lacks a disk, its variable store or
// its SSH host key (which sshx.EnsureHostKey makes), before anything is
// asked of systemd.
func CheckFiles(m layout.Machine) error {
	for _, f := range []struct{ what, path string }{
		{"system disk", m.SystemImage}, {"home disk", m.HomeImage}, {"UEFI variable store", m.NVRAM},
		{"SSH host key", m.HostKey},
	} {
		if info, err := os.Stat(f.path); err != nil || !info.Mode().IsRegular() {
			return &MissingFileError{f.what, f.path}
		}
	}
	return nil
}

// Start boots a machine as the transient user unit layout.Unit(m.Name),
// run by its supervisor, and returns its SSH port once QEMU answers on
// QMP. On any failure nothing of the attempt is left: no port file, no
// socket, no QEMU (a unit that failed stays loaded, so that systemctl
// --user status and journalctl can show why, until the next start).
func Start(ctx context.Context, units Units, l layout.Layout, m layout.Machine, o StartOptions) (int, error) {
	port, err := start(ctx, units, l, m, o)
	var boot *BootError
	if errors.As(err, &boot) && o.Accel == KVM && o.RetryTCG && ctx.Err() == nil {
		last := ""
		if n := len(boot.Messages); n > 0 {
			last = ": " + boot.Messages[n-1]
		}
		if o.Warn != nil {
			o.Warn("QEMU did not survive starting %s under KVM (%s%s); starting it under TCG emulation instead, several times slower\n"+
				"To run it under KVM, choose a processor model this host can give (VIRTDEV_CPU=%s now; on a nested host try VIRTDEV_CPU=host,-arch-capabilities); to skip KVM: VIRTDEV_ACCEL=tcg",
				m.Name, boot.Ended, last, o.CPU)
		}
		o.Accel = TCG
		return start(ctx, units, l, m, o)
	}
	return port, err
}

func start(ctx context.Context, units Units, l layout.Layout, m layout.Machine, o StartOptions) (int, error) {
	name := layout.Unit(m.Name)
	if _, err := egress.ParseZone(string(o.Zone)); err != nil {
		return 0, err
	}
	if err := CheckFiles(m); err != nil {
		return 0, err
	}
	st, err := units.Status(ctx, name)
	if err != nil {
		return 0, err
	}
	if st.Running() {
		return 0, &RunningError{Unit: name, State: st.ActiveState}
	}
	rm, err := exec.LookPath("rm")
	if err != nil {
		return 0, &SetupError{"rm not found in PATH: " + err.Error()}
	}
	// Leftovers of a machine that ended without cleanup (a host crash)
	// would otherwise claim that it runs.
	if err := removeRuntime(m); err != nil {
		return 0, err
	}
	if err := units.ResetFailed(ctx, name); err != nil {
		return 0, err
	}
	// Written before QEMU starts, so that the end of the unit always
	// follows it: written later, a QEMU that died in between would leave
	// a port file claiming a stopped machine runs. The zone first, so
	// that a running machine always has it.
	if err := project.WriteZone(m, o.Zone); err != nil {
		return 0, err
	}
	port, err := claimPort(l, m, o.Port)
	if err != nil {
		return 0, errors.Join(err, removeRuntime(m))
	}
	cmd := Command{
		Binary: o.QEMU, Name: m.Name, Accel: o.Accel, CPU: o.CPU, MemoryMB: o.MemoryMB, CPUs: o.CPUs,
		FirmwareCode: o.Firmware.Code, NVRAM: m.NVRAM, SystemImage: m.SystemImage, HomeImage: m.HomeImage,
		HostKey: filepath.Base(m.HostKey),
		Monitor: filepath.Base(m.Monitor), Console: filepath.Base(m.Console),
		Events: filepath.Base(m.Events), PidFile: filepath.Base(m.QEMUPid),
	}
	supervisor := []string{o.Supervisor, "--net=" + string(o.Zone), "--ssh-port=" + strconv.Itoa(port), "--"}
	if o.Report {
		cmd.Report = filepath.Base(m.Report)
	}
	begin := time.Now()
	err = units.StartTransient(ctx, name, unit.Transient{
		Description: "virtdev machine " + m.Name,
		Command:     append(supervisor, cmd.Args()...),
		Dir:         m.Dir,
		// The start job ends when the supervisor says QEMU answers on
		// QMP, and fails if the supervisor ends first.
		Notify:       true,
		StartTimeout: ReadyDeadline + startSlack,
		// The supervisor removes the runtime files when QEMU ends; this
		// is for a supervisor that was killed before it could.
		StopPost: append([]string{rm, "-f", "--"}, runtimeNames(m)...),
	})
	if err != nil {
		var job *unit.JobError
		if errors.As(err, &job) {
			err = explainBoot(ctx, units, job, m, o, port, begin)
		}
		return 0, errors.Join(err, rollback(ctx, units, name, m))
	}
	if ctx.Err() != nil {
		return 0, errors.Join(ctx.Err(), rollback(ctx, units, name, m))
	}
	return port, nil
}

// explainBoot tells why a start job failed, from the record the
// supervisor left (QEMU's exit and last words) and the port.
func explainBoot(ctx context.Context, units Units, job *unit.JobError, m layout.Machine, o StartOptions, port int, begin time.Time) error {
	st, _ := units.Status(context.WithoutCancel(ctx), job.Unit)
	ended := st.Ended()
	if job.Result == "timeout" {
		ended = fmt.Sprintf("no answer on QMP within %s", ReadyDeadline+startSlack)
	}
	var messages []string
	if rec := readFreshShutdown(m.Shutdown, begin); rec != nil {
		ended, messages = rec.Exit, rec.Messages
	}
	if !PortFree(port) {
		return &PortError{Port: port, Auto: o.Port == 0, Raced: true, Unit: job.Unit, Ended: ended}
	}
	return &BootError{Unit: job.Unit, Ended: ended, Messages: messages, Accel: o.Accel, CPU: o.CPU}
}

// rollback undoes a start that got as far as the unit: QEMU goes, then
// the files that say it runs. It runs even when ctx was cancelled.
func rollback(ctx context.Context, units Units, name string, m layout.Machine) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*KillGrace)
	defer cancel()
	if _, _, err := terminate(ctx, units, name, KillGrace); err != nil {
		return fmt.Errorf("rolling back: %w", err)
	}
	return removeRuntime(m)
}

// terminate ends a unit's processes: SIGTERM, then SIGKILL after grace.
// It returns the final status and the last signal sent.
func terminate(ctx context.Context, units Units, name string, grace time.Duration) (unit.Status, string, error) {
	var sent string
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		st, err := units.Status(ctx, name)
		if err != nil || st.Down() {
			return st, sent, err
		}
		if err := kill(ctx, units, name, sig); err != nil {
			return st, sent, err
		}
		sent = signalName(sig)
		graceCtx, cancel := context.WithTimeout(ctx, grace)
		st, err = units.WaitDown(graceCtx, name)
		cancel()
		if err == nil {
			return st, sent, nil
		}
		if ctx.Err() != nil {
			return st, sent, ctx.Err()
		}
	}
	st, err := units.Status(ctx, name)
	if err == nil && st.Running() {
		err = &StuckError{Unit: name, State: st.ActiveState}
	}
	return st, sent, err
}

// kill signals every process of a unit, which may have ended in the
// meantime: that is no failure.
func kill(ctx context.Context, units Units, name string, sig syscall.Signal) error {
	err := units.Kill(ctx, name, sig)
	if err != nil {
		if st, serr := units.Status(ctx, name); serr == nil && st.Down() {
			return nil
		}
	}
	return err
}

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return sig.String()
}

// runtimePaths are the files that exist only while a machine runs, the
// port file last.
func runtimePaths(m layout.Machine) []string {
	return []string{m.Monitor, m.Console, m.Events, m.QEMUPid, m.Up, m.Zone, m.Port}
}

// runtimeNames are the runtime files by their names in the machine's
// directory.
func runtimeNames(m layout.Machine) []string {
	var names []string
	for _, p := range runtimePaths(m) {
		names = append(names, filepath.Base(p))
	}
	return names
}

// removeRuntime deletes the files that exist only while a machine runs,
// the port file last: while it is there, the machine counts as running.
func removeRuntime(m layout.Machine) error {
	var errs []error
	for _, p := range runtimePaths(m) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
