package rebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"virtdev/lib/backup"
	"virtdev/lib/base"
	"virtdev/lib/config"
	"virtdev/lib/delta"
	"virtdev/lib/dispatch"
	"virtdev/lib/guest"
	"virtdev/lib/layout"
	"virtdev/lib/lifecycle"
	"virtdev/lib/project"
	"virtdev/lib/qemu"
	"virtdev/lib/runstate"
	"virtdev/lib/sshx"
	"virtdev/lib/unit"
)

// Env is what the chain needs of the program that runs it.
type Env struct {
	Layout  layout.Layout
	Config  *config.Config
	Getenv  func(string) string
	Program string // its name, for the locks of sweeps
	Stderr  io.Writer
	// Verbose shows rsync's progress even off a terminal.
	Verbose bool
	// Stagef announces a step; Infof and Warnf tell people the rest.
	Stagef, Infof, Warnf func(format string, args ...any)
}

// Result is what a chain did.
type Result struct {
	// Snapshot is the id of the snapshot the backup step took, or of the
	// one restored.
	Snapshot string
}

// StepError is a chain stopped by a step: what failed, the state the
// project is left in, and the commands that resume from there. The
// snapshot the backup step took, if it ran, is kept in every case.
type StepError struct {
	Step     Step
	Err      error
	Project  string
	Snapshot string // the snapshot to restore, if any
	Resume   []string
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of %s failed: %v\n%s", e.Step, e.Project, e.Err, state(e.Step, e.Project))
	if e.Snapshot != "" {
		fmt.Fprintf(&b, "\nThe snapshot %s is kept.", e.Snapshot)
	}
	if len(e.Resume) > 0 {
		b.WriteString("\nResume from this step, once its cause is fixed, with:")
		for _, c := range e.Resume {
			b.WriteString("\n    " + c)
		}
	}
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

// state says what a failure at step leaves.
func state(s Step, name string) string {
	switch s {
	case Backup:
		return "Nothing was changed: the machine runs as before."
	case Stop:
		return fmt.Sprintf("The machine may still run; see: systemctl --user status %s", layout.Unit(name))
	case Destroy:
		return "The project may be partly removed; virtdev-destroy finishes what was begun."
	case Create:
		return "The old machine is gone, and the new one was not made (nothing of it is left)."
	case Start:
		return "The new machine exists, but does not run."
	case Wait:
		return fmt.Sprintf("The new machine runs, but SSH did not let dev in; see: journalctl --user -u %s", layout.Unit(name))
	case Provision:
		return "The new machine runs; the guest is as the provision script left it."
	}
	return "The new machine runs and is provisioned; the snapshot was not (wholly) restored."
}

// Run runs the plan's steps in order, and stops at the first that fails
// with a *StepError. The caller holds the locks Prepare needs, and units
// is its connection to the user manager.
func Run(ctx context.Context, e Env, units *unit.Manager, p Plan) (Result, error) {
	r := Result{Snapshot: p.Snapshot}
	active := p.Active()
	for i, s := range active {
		e.Stagef("[%d/%d] %s%s", i+1, len(active), s, detail(p, s))
		if err := e.step(ctx, units, p, s, &r); err != nil {
			return r, &StepError{Step: s, Err: err, Project: p.Project, Snapshot: r.Snapshot, Resume: resume(p, s, r.Snapshot)}
		}
	}
	return r, nil
}

// detail is what the banner of a step adds.
func detail(p Plan, s Step) string {
	switch {
	case s == Provision:
		return " " + p.Provision
	case s == Restore && p.Snapshot != "":
		return " " + p.Snapshot
	}
	return ""
}

func (e Env) step(ctx context.Context, units *unit.Manager, p Plan, s Step, r *Result) error {
	l, name := e.Layout, p.Project
	m := l.Project(name)
	switch s {
	case Backup:
		t, err := e.reach(ctx, units, name)
		if err != nil {
			return err
		}
		g, err := backup.Generation(m)
		if err != nil {
			return err
		}
		taken, err := backup.Take(ctx, backup.NewLink(l, t, e.Stderr, e.Verbose, e.Warnf), p.Manifest, g)
		if err != nil {
			return err
		}
		for _, missing := range taken.Missing {
			e.Warnf("%s is not in the guest; skipped", backup.GuestHome+missing)
		}
		r.Snapshot = taken.ID
		e.Infof("Backed up %d files into snapshot %s", taken.Stats.Transferred, taken.Snapshot.Dir)
	case Stop:
		rec, err := qemu.Stop(ctx, units, m, qemu.StopOptions{Timeout: e.Config.StopTimeout, ResetFailed: true, Progress: e.Infof})
		if rec.How == "" {
			return err
		}
		// The machine is down, which is all the chain needs: its disks
		// are replaced, and what is kept of them the backup took before.
		if rec.How != runstate.Clean {
			e.Warnf("%s did not power off cleanly (%s), and was stopped all the same", name, rec.How)
		}
		if err != nil {
			e.Warnf("%v", err)
		}
	case Destroy:
		if err := lifecycle.CheckStopped(ctx, units, m); err != nil {
			return err
		}
		return lifecycle.Destroy(ctx, l, units, name, e.Infof)
	case Create:
		swept, err := delta.SweepCreates(l, name, e.Program)
		for _, dir := range swept {
			e.Warnf("removed %s, left by an interrupted virtdev-create", dir)
		}
		if err != nil {
			return err
		}
		g, err := base.Sealed(l)
		if err != nil {
			return err
		}
		if err := delta.Derive(ctx, l, name, g, sshx.MakeHostKey, e.Warnf); err != nil {
			return err
		}
		e.Infof("Project %s created on base generation %s", name, g)
	case Start:
		opts, err := e.host()
		if err != nil {
			return err
		}
		// The zone the project's own start would choose.
		var warning string
		if opts.Zone, warning = project.ConfiguredZone(l, name); warning != "" {
			e.Warnf("%s", warning)
		}
		port, err := qemu.Start(ctx, units, l, m, opts)
		if err != nil {
			return err
		}
		e.Infof("Started %s (network zone %s) with SSH on 127.0.0.1:%d", name, opts.Zone, port)
	case Wait:
		t, err := sshx.Locate(l, name)
		if err != nil {
			return err
		}
		signer, err := sshx.LoadSigner(t.Key)
		if err != nil {
			return err
		}
		return sshx.WaitReady(ctx, t, units, signer, e.Config.WaitTimeout)
	case Provision:
		return e.provision(ctx, units, name, p.Provision)
	case Restore:
		t, err := e.reach(ctx, units, name)
		if err != nil {
			return err
		}
		s, err := backup.Open(l, name, r.Snapshot)
		if err != nil {
			return err
		}
		stats, err := backup.Restore(ctx, backup.NewLink(l, t, e.Stderr, e.Verbose, e.Warnf), s)
		if err != nil {
			return err
		}
		e.Infof("Restored %d files from snapshot %s", stats.Transferred, r.Snapshot)
	}
	return nil
}

// host is the host side of a machine's start: QEMU, the firmware, the
// accelerator (a warning when it is emulation unasked for), and the
// supervisor beside this program.
func (e Env) host() (qemu.StartOptions, error) {
	opts, warning, err := qemu.HostOptions(e.Config, e.Getenv)
	if err != nil {
		return opts, err
	}
	supervisor, ok := dispatch.Find(dispatch.SelfDir(), "supervise")
	if !ok {
		return opts, errors.New("virtdev-supervise, which runs every machine, is neither beside this program nor on PATH\nInstall virtdev whole (make install installs every program).")
	}
	if warning != "" {
		e.Warnf("%s", warning)
	}
	opts.Supervisor, opts.Warn = supervisor, e.Warnf
	return opts, nil
}

// reach locates the running machine for a transfer.
func (e Env) reach(ctx context.Context, units *unit.Manager, name string) (sshx.Target, error) {
	t, err := sshx.Locate(e.Layout, name)
	if err != nil {
		return t, err
	}
	return t, sshx.CheckRunning(ctx, units, t)
}

// ProvisionFailed is a provision script that ended unsuccessfully.
type ProvisionFailed struct {
	Script string
	Status int // ssh's: the script's, or 255 for ssh's own failure
}

func (e *ProvisionFailed) Error() string {
	return fmt.Sprintf("the provision script %s ended with exit status %d (its output is above)", e.Script, e.Status)
}

// provision feeds the script to bash -s in the guest, as dev in /home/dev,
// over the connection virtdev-ssh would make; what it prints goes to
// people.
func (e Env) provision(ctx context.Context, units *unit.Manager, name, script string) error {
	f, err := os.Open(script)
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := e.reach(ctx, units, name)
	if err != nil {
		return err
	}
	session, err := sshx.Prepare(ctx, e.Layout, t, []string{"--", "bash", "-s"}, os.Environ(), e.Stderr, e.Warnf)
	if err != nil {
		return err
	}
	defer session.Close()
	cmd := exec.CommandContext(ctx, session.SSH, session.Args[1:]...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = session.Env, f, e.Stderr, e.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	err = cmd.Wait()
	status := cmd.ProcessState.ExitCode()
	session.Finish(ctx, status, e.Stderr, e.Warnf)
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &exit):
		return &ProvisionFailed{Script: script, Status: status}
	}
	return err
}

// resume are the commands that take the chain on from step s, by hand.
func resume(p Plan, s Step, snapshot string) []string {
	name := shellWord(p.Project)
	commands := map[Step]string{
		Stop:      "virtdev-stop " + name,
		Destroy:   "virtdev-destroy --yes " + name,
		Create:    "virtdev-create " + name,
		Start:     "virtdev-start " + name,
		Wait:      "virtdev-wait " + name,
		Provision: "virtdev-ssh " + name + " -- bash -s < " + shellWord(p.Provision),
		Restore:   "virtdev-restore " + name + " " + snapshot,
	}
	if s == Backup {
		// Nothing changed: the same recreate again.
		return []string{p.Options.command(p.Project)}
	}
	var out []string
	from := false
	for _, step := range Steps {
		from = from || step == s
		if from && p.Runs(step) && step != Backup {
			out = append(out, commands[step])
		}
	}
	return out
}

// command is the virtdev-recreate that asks for these options.
func (o Options) command(name string) string {
	c := "virtdev-recreate"
	for _, flag := range []struct {
		on   bool
		text string
	}{
		{o.NoBackup, " --no-backup"}, {o.NoRestore, " --no-restore"}, {o.NoProvision, " --no-provision"},
		{o.Provision != "", " --provision " + shellWord(o.Provision)},
	} {
		if flag.on {
			c += flag.text
		}
	}
	return c + " " + shellWord(name)
}

// shellWord is s as one word for the shell, quoted only when it must be.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:@%+,") == "" {
		return s
	}
	return guest.Quote(s)
}
