package maintain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ssh"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/qemu"
	"virtdev/lib/runstate"
	"virtdev/lib/sshx"
)

// running is a session whose machine has started.
type running struct {
	*Session
	m     layout.Machine
	begin time.Time // when the machine started: older records are not its
	nonce string    // the seal's word for this session
	hooks hookSet
	ssh   string // the ssh program

	config   string // the session's ssh configuration, once assembled
	cleanup  func()
	stopLock *lock.Lock
}

// Files the session writes in the staging directory besides the machine's.
const (
	inventoryBefore = "inventory.before"
	inventoryAfter  = "inventory.after"
)

func (r *running) close() {
	if r.cleanup != nil {
		r.cleanup()
	}
	r.stopLock.Release()
}

// open waits for SSH, installs the seal, takes the inventory and runs the
// provision hooks. On failure the machine is stopped, if it still runs.
func (r *running) open(ctx context.Context, signer ssh.Signer) error {
	t, err := sshx.Locate(r.Layout, layout.Maintenance)
	if err != nil {
		return r.fail(ctx, err)
	}
	if err := sshx.WaitReady(ctx, t, r.Units, signer, r.Config.WaitTimeout); err != nil {
		return r.fail(ctx, &SSHError{Err: err, Staging: r.m.Dir})
	}
	r.Stagef("SSH is up; preparing the machine to seal itself when it powers off")
	r.config, r.cleanup, err = sshx.Config(ctx, r.Layout, t, sshx.TriggerEnv(r.Environ, t), r.Stderr, r.Warnf)
	if err != nil {
		return r.fail(ctx, &stoppedError{err, r.m.Dir})
	}
	var inventory []byte
	if r.hooks.inventory != nil {
		inventory = r.hooks.inventory.text
	}
	status, err := r.run(ctx, "sudo sh -s", []byte(armScript(r.nonce, inventory)), r.Stderr)
	if err != nil || status != 0 {
		return r.fail(ctx, &ArmError{Status: status, Err: err, Staging: r.m.Dir})
	}
	if h := r.hooks.inventory; h != nil {
		r.Stagef("Taking the inventory before the session (%s)", h.path)
		var before bytes.Buffer
		status, err := r.run(ctx, inventoryCommand, nil, &before)
		if err != nil || status != 0 {
			return r.fail(ctx, &HookError{Hook: h.name, Path: h.path, Status: status, Err: err, Staging: r.m.Dir})
		}
		if err := os.WriteFile(filepath.Join(r.m.Dir, inventoryBefore), before.Bytes(), 0o644); err != nil {
			return r.fail(ctx, &HookError{Hook: h.name, Path: h.path, Err: err, Staging: r.m.Dir})
		}
	}
	for _, h := range r.hooks.provision {
		as := "dev"
		if h.asRoot {
			as = "root"
		}
		r.Stagef("Running the %s hook %s in the maintenance machine (as %s)", h.name, h.path, as)
		status, err := r.run(ctx, hookCommand(h.asRoot), h.text, r.Stderr)
		if err != nil || status != 0 {
			return r.fail(ctx, &HookError{Hook: h.name, Path: h.path, Status: status, Err: err, Staging: r.m.Dir})
		}
	}
	return nil
}

// run runs a command in the guest as dev over ssh, with stdin as its
// input and stdout taking its output, and returns its exit status (255
// when ssh itself failed).
func (r *running) run(ctx context.Context, command string, stdin []byte, stdout io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, r.ssh, "-F", r.config, sshx.Alias(layout.Maintenance), "--", command)
	cmd.Env = r.Environ
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = stdout, r.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		return exit.ExitCode(), nil
	}
	return 0, err
}

// fail ends a session that could not open: when the machine ended
// meanwhile, how it ended is the news; otherwise it is stopped and err
// stands.
func (r *running) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return r.stop(ctx, &InterruptedError{What: "while the session was opening; the maintenance machine was stopped", Staging: r.m.Dir})
	}
	st, serr := r.Units.Status(ctx, layout.Unit(layout.Maintenance))
	if serr == nil && st.Down() {
		if end := r.ending(ctx, true); end != nil {
			return end
		}
		return &EndError{End: Unsealed, Early: true, Staging: r.m.Dir}
	}
	return r.stop(ctx, err)
}

// stop powers the machine off, as virtdev-stop does, for a failure that is
// not its own, and returns err with what went wrong on the way.
func (r *running) stop(ctx context.Context, err error) error {
	r.Infof("Stopping the maintenance machine")
	_, serr := qemu.Stop(context.WithoutCancel(ctx), r.Units, r.m, qemu.StopOptions{Timeout: r.Config.StopTimeout, Progress: r.Infof})
	var notRunning *qemu.NotRunningError
	if serr != nil && !errors.As(serr, &notRunning) {
		return errors.Join(err, fmt.Errorf("cannot stop the maintenance machine: %w\nStop it: virtdev-stop %s", serr, layout.Maintenance))
	}
	return err
}

// await waits for the machine to end, and returns the seal's report when
// the session may be resealed.
func (r *running) await(ctx context.Context) (report, error) {
	_, err := r.Units.WaitDown(ctx, layout.Unit(layout.Maintenance))
	switch {
	case ctx.Err() != nil:
		return report{}, r.stop(ctx, &InterruptedError{What: "during the session; the maintenance machine was stopped", Staging: r.m.Dir})
	case err != nil:
		return report{}, exitcode.Wrap(exitcode.NoUserManager, err,
			"lost track of the maintenance machine, which may still run (systemctl --user status %s)\n%s", layout.Unit(layout.Maintenance), kept(r.m.Dir))
	}
	if end := r.ending(ctx, false); end != nil {
		return report{}, end
	}
	data, err := os.ReadFile(r.m.Report)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return report{}, fmt.Errorf("cannot read what the maintenance machine reported: %w\n%s", err, kept(r.m.Dir))
	}
	rep := parseReport(data, r.nonce)
	if !rep.sealed {
		return rep, &EndError{End: Unsealed, Staging: r.m.Dir}
	}
	r.Stagef("The maintenance machine powered off and sealed itself")
	return rep, nil
}

// ending tells how the machine, which is down, ended: nil when the guest
// powered itself off and nothing stopped it. virtdev-stop maintenance
// holds the maintenance machine's lock while it stops it, and records what
// it did once the machine is down; ending waits for it to finish, and
// then holds the lock itself, so that a late virtdev-stop finds the
// session over.
func (r *running) ending(ctx context.Context, early bool) error {
	aborted := r.syncStop(ctx)
	rec, err := runstate.ReadShutdown(r.m.Shutdown)
	if err != nil || rec.Time.Before(r.begin) {
		rec = runstate.Shutdown{How: runstate.Unknown}
	}
	e := &EndError{Record: rec, Early: early, Staging: r.m.Dir}
	switch {
	case aborted || rec.Presses > 0:
		e.End = Aborted
	case rec.How == runstate.Forced:
		e.End = Forced
	case rec.How != runstate.Clean || !rec.Guest:
		e.End = Crashed
	default:
		return nil
	}
	return e
}

// stopPatience bounds the wait for a virtdev-stop that holds the
// maintenance machine's lock: its whole escalation, and some.
func (r *running) stopPatience() time.Duration {
	return r.Config.StopTimeout + 3*qemu.KillGrace
}

// syncStop takes the maintenance machine's lock, waiting while a
// virtdev-stop holds it, and reports whether one did.
func (r *running) syncStop(ctx context.Context) (stopped bool) {
	if r.stopLock != nil {
		return false
	}
	deadline := time.Now().Add(r.stopPatience())
	for {
		held, err := lock.Project(r.Layout, layout.Maintenance, lock.MaintainProgram)
		if err == nil {
			r.stopLock = held
			return stopped
		}
		// Anything but a virtdev-stop at work cannot be told from one.
		stopped = true
		if exitcode.For(err) != exitcode.Locked.N || time.Now().After(deadline) || ctx.Err() != nil {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// showInventory shows how the inventory changed over the session.
func (r *running) showInventory(rep report) error {
	h := r.hooks.inventory
	if h == nil {
		return nil
	}
	if !rep.hasInventory {
		r.Warnf("the seal took no inventory after the session; there is nothing to compare")
		return nil
	}
	if rep.inventoryStatus != 0 {
		r.Warnf("the inventory hook %s failed after the session (status %d); its output is compared all the same", h.path, rep.inventoryStatus)
	}
	before, after := filepath.Join(r.m.Dir, inventoryBefore), filepath.Join(r.m.Dir, inventoryAfter)
	if err := os.WriteFile(after, rep.inventory, 0o644); err != nil {
		return fmt.Errorf("cannot keep the inventory after the session: %w\n%s", err, kept(r.m.Dir))
	}
	r.Stagef("What changed, as the inventory hook %s sees it", h.path)
	cmd := exec.Command("diff", "-u", "--label", "before", "--label", "after", before, after)
	cmd.Stdout, cmd.Stderr = r.Stderr, r.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		r.Infof("Nothing: the inventory is the same as before the session.")
	case errors.As(err, &exit) && exit.ExitCode() == 1:
	default:
		r.Warnf("cannot compare the inventories (diff: %v); they are %s and %s", err, before, after)
	}
	return nil
}

// stoppedError is a failure after which the machine was stopped; it keeps
// the code of its cause.
type stoppedError struct {
	Err     error
	Staging string
}

func (e *stoppedError) Error() string {
	return fmt.Sprintf("%v\nThe machine was stopped. %s", e.Err, kept(e.Staging))
}

func (e *stoppedError) Unwrap() error { return e.Err }
