package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"virtdev/lib/config"
	"virtdev/lib/firmware"
	"virtdev/lib/layout"
	"virtdev/lib/unit"
)

// Deadlines and intervals of starting and stopping.
const (
	// ActiveDeadline bounds the wait for systemd to report the unit active.
	ActiveDeadline = 5 * time.Second
	// ReadyDeadline bounds the wait for QEMU to answer on QMP, which it
	// does once it has opened the disks, bound the port and built the
	// machine.
	ReadyDeadline = 15 * time.Second
	// PressInterval is how often Stop presses the power button again: a
	// guest that is still booting ignores a press.
	PressInterval = 3 * time.Second
	// KillGrace is how long QEMU gets after SIGTERM before SIGKILL, and
	// after SIGKILL before Stop gives up.
	KillGrace = 10 * time.Second
	// maxSocketPath is the longest path a Unix socket address holds.
	maxSocketPath = 107
)

// StartOptions is what starting a machine needs besides the machine.
type StartOptions struct {
	Port     int // 0 picks the lowest free port from FirstPort
	MemoryMB int
	CPUs     int
	Accel    string // KVM or TCG, as ChooseAccel resolved it
	Firmware firmware.Pair
	QEMU     string // absolute path of qemu-system-x86_64
}

// SetupError is something missing on the host rather than in the machine.
type SetupError struct{ Message string }

func (e *SetupError) Error() string { return e.Message }

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
	return StartOptions{MemoryMB: c.MemoryMB, CPUs: c.CPUs, Accel: accel, Firmware: pair, QEMU: binary}, warning, nil
}

// MissingFileError is a file the machine cannot boot without.
type MissingFileError struct{ What, Path string }

func (e *MissingFileError) Error() string {
	return fmt.Sprintf("the %s is missing: %s", e.What, e.Path)
}

// RunningError refuses to start a machine that runs.
type RunningError struct {
	Unit  string
	State string
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("%s is already %s", e.Unit, e.State)
}

// NotRunningError refuses to stop a machine that does not run.
type NotRunningError struct{ Unit string }

func (e *NotRunningError) Error() string { return e.Unit + " is not running" }

// BootError is QEMU failing to come up: it exited, or did not get far
// enough in time. The unit is left in its failed state for inspection.
type BootError struct {
	Unit    string
	Ended   string // how QEMU ended, when it did
	State   string // the unit's state when the deadline passed
	Timeout string // what did not happen in time, when nothing ended
}

func (e *BootError) Error() string {
	read := fmt.Sprintf("Read QEMU's messages: journalctl --user -u %s", e.Unit)
	if e.Timeout != "" {
		return fmt.Sprintf("%s: %s (state %s); QEMU was stopped\n%s", e.Unit, e.Timeout, e.State, read)
	}
	ended := e.Ended
	if ended == "" {
		ended = "status unknown"
	}
	return fmt.Sprintf("QEMU exited while %s was starting (%s): it likely crashed at boot\n%s\nand: systemctl --user status %s", e.Unit, ended, read, e.Unit)
}

// StuckError is a machine that survived SIGKILL.
type StuckError struct {
	Unit  string
	State string
}

func (e *StuckError) Error() string {
	return fmt.Sprintf("%s is still %s after SIGTERM and SIGKILL; the machine may still run\nInspect it: systemctl --user status %s", e.Unit, e.State, e.Unit)
}

// Start boots a machine as the transient user unit layout.Unit(m.Name) and
// returns its SSH port once QEMU is up. On any failure nothing of the
// attempt is left: no port file, no socket, no QEMU (a unit that failed
// stays loaded, so that systemctl --user status can show why).
func Start(ctx context.Context, units *unit.Manager, m layout.Machine, o StartOptions) (int, error) {
	name := layout.Unit(m.Name)
	for _, f := range []struct{ what, path string }{
		{"system disk", m.SystemImage}, {"home disk", m.HomeImage}, {"UEFI variable store", m.NVRAM},
	} {
		if info, err := os.Stat(f.path); err != nil || !info.Mode().IsRegular() {
			return 0, &MissingFileError{f.what, f.path}
		}
	}
	for _, s := range []string{m.Monitor, m.Console} {
		if len(s) > maxSocketPath {
			return 0, &SetupError{fmt.Sprintf("socket path %s is %d bytes long; Unix sockets allow %d\nChoose a shorter VIRTDEV_HOME.", s, len(s), maxSocketPath)}
		}
	}
	st, err := units.Status(ctx, name)
	if err != nil {
		return 0, err
	}
	if st.Running() {
		return 0, &RunningError{Unit: name, State: st.ActiveState}
	}
	port := o.Port
	if port == 0 {
		if port, err = ChoosePort(FirstPort, PortFree); err != nil {
			return 0, err
		}
	} else if !PortFree(port) {
		return 0, &PortError{Port: port}
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
	cmd := Command{
		Binary: o.QEMU, Name: m.Name, Accel: o.Accel, MemoryMB: o.MemoryMB, CPUs: o.CPUs,
		FirmwareCode: o.Firmware.Code, NVRAM: m.NVRAM, SystemImage: m.SystemImage, HomeImage: m.HomeImage,
		Port: port, Monitor: m.Monitor, Console: m.Console,
	}
	// Written before QEMU starts, so that the unit's ExecStopPost always
	// runs after it: written later, a QEMU that died in between would
	// leave a port file claiming a stopped machine runs.
	if err := writePort(m.Port, port); err != nil {
		err = fmt.Errorf("cannot write the port file %s: %w", m.Port, err)
		return 0, errors.Join(err, removeRuntime(m))
	}
	err = units.StartTransient(ctx, name, unit.Transient{
		Description: "virtdev machine " + m.Name,
		Command:     cmd.Args(),
		// However QEMU ends, even by the guest's own poweroff with no
		// virtdev program watching, the files that say "running" go.
		StopPost: []string{rm, "-f", m.Port, m.Monitor, m.Console},
	})
	if err != nil {
		return 0, errors.Join(err, removeRuntime(m))
	}
	if err := awaitBoot(ctx, units, name, m, port, o.Port == 0); err != nil {
		return 0, errors.Join(err, rollback(ctx, units, name, m))
	}
	return port, nil
}

// awaitBoot returns once systemd reports the unit active and QEMU answers
// on QMP, or explains why that did not happen.
func awaitBoot(ctx context.Context, units *unit.Manager, name string, m layout.Machine, port int, auto bool) error {
	crashed := func(st unit.Status) error {
		if !PortFree(port) {
			return &PortError{Port: port, Auto: auto, Raced: true, Unit: name, Ended: st.Ended()}
		}
		return &BootError{Unit: name, Ended: st.Ended()}
	}
	activeCtx, cancel := context.WithTimeout(ctx, ActiveDeadline)
	defer cancel()
	st, err := units.WaitFor(activeCtx, name, func(s unit.Status) bool { return s.ActiveState == "active" || s.Down() })
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return &BootError{Unit: name, State: st.ActiveState, Timeout: fmt.Sprintf("systemd did not report it active within %s", ActiveDeadline)}
	case err != nil:
		return err
	case st.Down():
		return crashed(st)
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	down := make(chan unit.Status, 1)
	go func() {
		if s, err := units.WaitDown(watchCtx, name); err == nil {
			down <- s
		}
	}()
	deadline := time.NewTimer(ReadyDeadline)
	defer deadline.Stop()
	for {
		mon, err := Dial(ctx, m.Monitor, time.Second)
		if err == nil {
			mon.Close()
			return nil
		}
		select {
		case s := <-down:
			return crashed(s)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			st, _ := units.Status(ctx, name)
			return &BootError{Unit: name, State: st.ActiveState, Timeout: fmt.Sprintf("QEMU did not answer on its QMP socket %s within %s", m.Monitor, ReadyDeadline)}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// rollback undoes a start that got as far as the unit: QEMU goes, then
// the files that say it runs. It runs even when ctx was cancelled.
func rollback(ctx context.Context, units *unit.Manager, name string, m layout.Machine) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*KillGrace)
	defer cancel()
	if _, _, err := terminate(ctx, units, name); err != nil {
		return fmt.Errorf("rolling back: %w", err)
	}
	return removeRuntime(m)
}

// terminate ends a unit's processes: SIGTERM, then SIGKILL after
// KillGrace. It returns the final status and the last signal sent.
func terminate(ctx context.Context, units *unit.Manager, name string) (unit.Status, string, error) {
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
		graceCtx, cancel := context.WithTimeout(ctx, KillGrace)
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

// kill signals a unit, which may have ended in the meantime: that is no
// failure.
func kill(ctx context.Context, units *unit.Manager, name string, sig syscall.Signal) error {
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

// removeRuntime deletes the files that exist only while a machine runs.
func removeRuntime(m layout.Machine) error {
	var errs []error
	for _, p := range []string{m.Port, m.Monitor, m.Console} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StopOptions is how Stop goes about it.
type StopOptions struct {
	// Timeout is how long the guest has to power off after the first
	// press of the power button before QEMU gets SIGTERM
	// (VIRTDEV_STOP_TIMEOUT).
	Timeout time.Duration
	// ResetFailed clears the unit's failed state afterwards. The
	// maintenance machine's owner reads that state itself and leaves it
	// false.
	ResetFailed bool
	// Progress reports steps to people; nil says nothing.
	Progress func(format string, args ...any)
}

// Stop powers a machine off: the ACPI power button over QMP, pressed again
// every PressInterval, then SIGTERM after o.Timeout, then SIGKILL. It
// returns, and records in m.Shutdown, how the machine ended, as QEMU's
// SHUTDOWN event tells it; the port file and sockets go once the unit is
// down.
func Stop(ctx context.Context, units *unit.Manager, m layout.Machine, o StopOptions) (Shutdown, error) {
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	name := layout.Unit(m.Name)
	st, err := units.Status(ctx, name)
	if err != nil {
		return Shutdown{}, err
	}
	if st.Down() {
		// Files from a machine that ended unwatched must not claim it runs.
		return Shutdown{}, errors.Join(&NotRunningError{Unit: name}, removeRuntime(m))
	}
	begin := time.Now()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	down := make(chan unit.Status, 1)
	failed := make(chan error, 1)
	go func() {
		s, err := units.WaitDown(watchCtx, name)
		if err != nil {
			failed <- err
			return
		}
		down <- s
	}()

	type step struct {
		sig   syscall.Signal
		after time.Duration
	}
	steps := []step{{syscall.SIGTERM, o.Timeout}, {syscall.SIGKILL, KillGrace}, {0, KillGrace}}
	var sent string
	pressCtx, stopPressing := context.WithCancel(ctx)
	p := &presser{unreachable: make(chan error, 1), done: make(chan struct{})}
	defer func() {
		stopPressing()
		// On the error paths QEMU may still run; hang up if the presser
		// is done with the connection, without waiting for it.
		select {
		case <-p.done:
			if p.mon != nil {
				p.mon.Close()
			}
		default:
		}
	}()
	progress("pressing the power button of %s (QEMU gets SIGTERM after %s)", m.Name, o.Timeout)
	go p.run(pressCtx, m.Monitor, progress)

	timer := time.NewTimer(steps[0].after)
	defer timer.Stop()
	var final unit.Status
wait:
	for {
		select {
		case final = <-down:
			break wait
		case err := <-failed:
			return Shutdown{}, err
		case err := <-p.unreachable:
			// Without a monitor there is no button to press.
			progress("cannot reach QEMU's monitor (%v); sending QEMU SIGTERM", err)
			if err := kill(ctx, units, name, syscall.SIGTERM); err != nil {
				return Shutdown{}, err
			}
			sent = "SIGTERM"
			steps = steps[1:]
			timer.Reset(steps[0].after)
		case <-timer.C:
			s := steps[0]
			steps = steps[1:]
			if s.sig == 0 {
				st, _ := units.Status(ctx, name)
				return Shutdown{}, &StuckError{Unit: name, State: st.ActiveState}
			}
			sent = signalName(s.sig)
			if s.sig == syscall.SIGTERM {
				progress("the guest did not power off within %s; sending QEMU SIGTERM", o.Timeout)
			} else {
				progress("QEMU did not exit within %s of SIGTERM; sending SIGKILL", KillGrace)
			}
			if err := kill(ctx, units, name, s.sig); err != nil {
				return Shutdown{}, err
			}
			timer.Reset(steps[0].after)
		}
	}

	stopPressing()
	<-p.done
	var event *ShutdownEvent
	if p.mon != nil {
		// QEMU has exited, so the connection is at its end: what it sent
		// before, the SHUTDOWN event included, is read by now or soon.
		event = p.mon.Finish(time.Second)
	}
	rec := classify(event, sent)
	rec.Presses = p.presses
	rec.Exit = final.Ended()
	rec.After = time.Since(begin).Seconds()
	rec.Time = time.Now().UTC().Truncate(time.Second)
	var errs []error
	if err := WriteShutdown(m.Shutdown, rec); err != nil {
		errs = append(errs, fmt.Errorf("cannot record how %s ended in %s: %w", m.Name, m.Shutdown, err))
	}
	if o.ResetFailed {
		if err := units.ResetFailed(context.WithoutCancel(ctx), name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeRuntime(m); err != nil {
		errs = append(errs, err)
	}
	return rec, errors.Join(errs...)
}

// presser connects to QEMU's monitor and presses the power button now
// and every PressInterval until its context ends or QEMU stops answering.
// Its fields belong to run until done is closed.
type presser struct {
	mon         *Monitor
	presses     int
	unreachable chan error    // the monitor cannot be reached at all
	done        chan struct{} // run has returned
}

func (p *presser) run(ctx context.Context, path string, progress func(string, ...any)) {
	defer close(p.done)
	for told := false; ; told = true {
		mon, err := Dial(ctx, path, PressInterval)
		if err == nil {
			p.mon = mon
			break
		}
		if !errors.Is(err, ErrMonitorBusy) {
			if ctx.Err() == nil {
				p.unreachable <- err
			}
			return
		}
		// Someone else's QMP session holds the monitor; QEMU greets the
		// next client when it ends, so keep asking until the deadline.
		if !told {
			progress("QEMU's monitor %s is busy with another client; waiting for it", path)
		}
	}
	for {
		if err := p.mon.Powerdown(); err != nil {
			return
		}
		p.presses++
		select {
		case <-ctx.Done():
			return
		case <-time.After(PressInterval):
		}
	}
}
