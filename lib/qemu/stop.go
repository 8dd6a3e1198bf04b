package qemu

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"virtdev/lib/layout"
	"virtdev/lib/runstate"
	"virtdev/lib/unit"
)

// Intervals of stopping.
const (
	// PressInterval is how often Stop presses the power button again: a
	// guest that is still booting ignores a press.
	PressInterval = 3 * time.Second
	// KillGrace is how long QEMU gets after SIGTERM before SIGKILL, and
	// after SIGKILL before Stop gives up.
	KillGrace = 10 * time.Second
	// commandTimeout bounds one QMP exchange of Stop's: a connection, a
	// greeting, a command.
	commandTimeout = 2 * time.Second
)

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
	// Force sends QEMU SIGTERM at once, without pressing the power
	// button or waiting for the guest.
	Force bool
	// PressInterval and KillGrace replace the package's defaults when
	// set, for tests.
	PressInterval, KillGrace time.Duration
}

// Stop powers a machine off: the ACPI power button, pressed over QMP now
// and every PressInterval, then SIGTERM after o.Timeout, then SIGKILL
// (o.Force: SIGTERM at once). A guest that cannot go on (QEMU's status
// internal-error or guest-panicked) cannot handle the button, and gets
// SIGTERM at once. A machine QEMU paused is continued before the press,
// since the guest could not see it otherwise: one paused on a full disk
// only once its file system has room again (runstate.ResumeRoom). Without
// room, Stop returns a *HaltedError and leaves the machine paused: a clean
// poweroff needs the guest to write.
//
// It returns once the unit is down, with the record of how the machine
// ended: the supervisor's, from QEMU's SHUTDOWN event, with what Stop did
// added (presses, the last signal, the time it took), and rewritten; or,
// when the supervisor was killed before it could write one, Stop's own.
func Stop(ctx context.Context, units Units, m layout.Machine, o StopOptions) (runstate.Shutdown, error) {
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.PressInterval == 0 {
		o.PressInterval = PressInterval
	}
	if o.KillGrace == 0 {
		o.KillGrace = KillGrace
	}
	name := layout.Unit(m.Name)
	st, err := units.Status(ctx, name)
	if err != nil {
		return runstate.Shutdown{}, err
	}
	if st.Down() {
		// Files from a machine that ended unwatched must not claim it runs.
		return runstate.Shutdown{}, errors.Join(&NotRunningError{Unit: name}, removeRuntime(m))
	}
	begin := time.Now()
	s := &stopping{units: units, name: name, m: m, o: o}
	final, err := s.run(ctx)
	if err != nil {
		return runstate.Shutdown{}, err
	}
	rec := s.record(final, begin)
	var errs []error
	if err := runstate.WriteShutdown(m.Shutdown, rec); err != nil {
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

// stopping is one Stop under way.
type stopping struct {
	units Units
	name  string
	m     layout.Machine
	o     StopOptions

	presses int
	sent    string            // the last signal sent
	state   runstate.RunState // the status that kept the guest from the button, if any
}

// press is what one round of the power button found and did.
type press struct {
	found   *runstate.Condition // how QEMU found the machine, when it answered
	resumed bool                // it was paused, and was continued
	pressed bool
	err     error
}

// unable reports a round that found the guest unable to handle the button:
// failed, or paused without room to go on.
func (p press) unable() bool {
	return p.found != nil && (p.found.State.Failed() || p.found.State.Halted() && !p.resumed)
}

// run presses and escalates until the unit is down, and returns its final
// status.
func (s *stopping) run(ctx context.Context) (unit.Status, error) {
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	type end struct {
		st  unit.Status
		err error
	}
	down := make(chan end, 1)
	go func() {
		st, err := s.units.WaitDown(watchCtx, s.name)
		down <- end{st, err}
	}()
	// Every round of the power button is reported, until pressLoop ends
	// and closes reports: once the unit is down, the round under way is
	// let finish (QEMU has ended, its monitor is closed at once) so that
	// the press the guest powered off on is counted.
	reports := make(chan press)
	presses := reports // nil once pressLoop has ended
	pressCtx, stopPressing := context.WithCancel(watchCtx)
	defer func() {
		stopPressing()
		// Not waited for: a QEMU that outlived its stop may not answer
		// the round under way before the monitor's timeout.
		go func() {
			for range reports {
			}
		}()
	}()

	// The escalation: SIGTERM once the guest has had its time, SIGKILL
	// if QEMU survives it, and then nothing more to try.
	steps := []struct {
		sig   syscall.Signal
		after time.Duration
	}{{syscall.SIGTERM, s.o.Timeout}, {syscall.SIGKILL, s.o.KillGrace}, {0, s.o.KillGrace}}
	timer := time.NewTimer(steps[0].after)
	defer timer.Stop()
	escalate := func(why string) error {
		step := steps[0]
		steps = steps[1:]
		if step.sig == 0 {
			st, _ := s.units.Status(ctx, s.name)
			return &StuckError{Unit: s.name, State: st.ActiveState}
		}
		s.o.Progress("%s; sending QEMU %s", why, signalName(step.sig))
		if err := kill(ctx, s.units, s.name, step.sig); err != nil {
			return err
		}
		s.sent = signalName(step.sig)
		timer.Reset(steps[0].after)
		return nil
	}
	if s.o.Force {
		// Only to record what state the guest was left in.
		if c, err := runstate.Examine(ctx, s.m, commandTimeout); err == nil && c.State != runstate.StateRunning {
			s.state = c.State
		}
		close(reports)
		if err := escalate("the stop is forced"); err != nil {
			return unit.Status{}, err
		}
	} else {
		go s.pressLoop(pressCtx, reports)
	}
	toldBusy, unreachable := false, 0
	for {
		select {
		case e := <-down:
			stopPressing()
			for p := range reports {
				s.tell(p)
			}
			return e.st, e.err
		case p, ok := <-presses:
			if !ok {
				presses = nil
				continue
			}
			var err error
			if p.err == nil || errors.Is(p.err, runstate.ErrMonitorBusy) {
				unreachable = 0
			}
			s.tell(p)
			switch {
			case p.pressed: // told
			case p.unable() && p.found.State.Halted():
				if s.sent == "" {
					return unit.Status{}, GuestErr(s.m.Name, *p.found)
				}
			case p.unable():
				s.state = p.found.State
				if s.sent == "" {
					err = escalate(fmt.Sprintf("the guest is not running (QEMU status %s), so it cannot handle the power button", p.found.State))
				}
			case errors.Is(p.err, runstate.ErrMonitorBusy):
				if !toldBusy {
					toldBusy = true
					s.o.Progress("QEMU's monitor %s is busy with another client; pressing again in %s", s.m.Monitor, s.o.PressInterval)
				}
			default:
				// Without a monitor there is no button to press. Once is
				// not enough to tell: QEMU closes it as it exits after a
				// poweroff, a moment before its unit is down.
				unreachable++
				if unreachable == 2 && s.sent == "" {
					err = escalate(fmt.Sprintf("cannot reach QEMU's monitor (%v)", p.err))
				}
			}
			if err != nil {
				return unit.Status{}, err
			}
		case <-timer.C:
			why := fmt.Sprintf("the guest did not power off within %s", s.o.Timeout)
			if s.sent != "" {
				why = fmt.Sprintf("QEMU did not exit within %s of %s", s.o.KillGrace, s.sent)
			}
			if err := escalate(why); err != nil {
				return unit.Status{}, err
			}
		}
	}
}

// tell counts a round's press, and tells people of the first press and
// of a machine continued.
func (s *stopping) tell(p press) {
	if p.resumed {
		s.o.Progress("continued %s, which QEMU had paused (%s), so that the guest sees the power button", s.m.Name, p.found.Reason())
	}
	if p.pressed {
		if s.presses == 0 {
			s.o.Progress("pressed the power button of %s (QEMU gets SIGTERM if the guest has not powered off within %s)", s.m.Name, s.o.Timeout)
		}
		s.presses++
	}
}

// pressLoop presses the power button now and every PressInterval, each
// time over connections of its own (runstate.Examine's, then the
// press's), after asking QEMU whether the guest runs: a press while it
// does not is lost. Each round goes to out, which is closed as pressLoop
// ends: with ctx, or after finding the guest unable to handle the button.
func (s *stopping) pressLoop(ctx context.Context, out chan<- press) {
	defer close(out)
	for {
		p := pressOnce(ctx, s.m)
		out <- p
		if p.unable() || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.o.PressInterval):
		}
	}
}

// pressOnce asks how the machine is, continues it if QEMU paused it and
// it has room to go on, and presses the button if the guest runs.
func pressOnce(ctx context.Context, m layout.Machine) press {
	c, err := runstate.Examine(ctx, m, commandTimeout)
	if err != nil {
		return press{err: err}
	}
	p := press{found: &c}
	if c.State.Failed() || c.State.Halted() && !c.HasRoom() {
		return p
	}
	mon, err := Dial(ctx, m.Monitor, commandTimeout)
	if err != nil {
		p.err = err
		return p
	}
	defer mon.Close()
	if c.State.Halted() {
		if err := mon.Cont(commandTimeout); err != nil {
			p.err = err
			return p
		}
		p.resumed = true
	}
	if err := mon.Powerdown(commandTimeout); err != nil {
		p.err = err
		return p
	}
	p.pressed = true
	return p
}

// record is how the machine ended: the supervisor's record of QEMU's end
// if it wrote one during this stop, else what Stop knows, with Stop's own
// part added.
func (s *stopping) record(final unit.Status, begin time.Time) runstate.Shutdown {
	var rec runstate.Shutdown
	if fresh := readFreshShutdown(s.m.Shutdown, begin); fresh != nil {
		rec = *fresh
	} else {
		rec.Exit = final.Ended()
		rec.Time = time.Now()
	}
	how := classify(recordedEvent(rec), s.sent)
	rec.How, rec.Signal = how.How, s.sent
	rec.Presses = s.presses
	rec.State = s.state
	rec.After = time.Since(begin).Seconds()
	return rec
}
