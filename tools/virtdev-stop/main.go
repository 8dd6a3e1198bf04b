// Command virtdev-stop shuts a project's virtual machine down.
//
//	virtdev-stop [OPTIONS] <project>
//
// It presses the ACPI power button over QMP, again every few seconds (a
// guest still booting ignores a press), and sends QEMU SIGTERM when the
// guest has not powered off within VIRTDEV_STOP_TIMEOUT seconds, SIGKILL if
// even that fails; a guest that failed (crashed, panicked) gets SIGTERM at
// once, and so does every guest with --force. A machine QEMU paused is
// continued first; one paused on a full disk only once there is room again,
// else it is left paused and the program says what to free. How the
// machine ended comes from QEMU's SHUTDOWN
// event, not its exit status (QEMU exits 0 on SIGTERM too); it is printed
// (clean, forced or unknown) on stdout and recorded in the machine's
// shutdown file. `virtdev-stop maintenance` aborts a virtdev-maintain
// session: it takes the maintenance machine's lock, not the base lock the
// session holds, and leaves the unit's final state to virtdev-maintain.
package main

import (
	"errors"
	"fmt"
	"strings"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/qemu"
	"virtdev/lib/runstate"
	"virtdev/lib/unit"
)

const (
	exitForced     = 10
	exitUnknownEnd = 11
	exitStuck      = 12
)

const programName = "virtdev-stop"

type options struct {
	Force bool `short:"f" long:"force" description:"send QEMU SIGTERM at once, without pressing the power button: the guest does not shut down cleanly"`
}

var opts options

var command = cli.Command{
	Name:    programName,
	Group:   cli.Lifecycle,
	Summary: "Shut a project's virtual machine down, cleanly if the guest lets it.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgMachine}},
	Description: `Presses the ACPI power button over QMP, again every few seconds until the
guest powers off, each time over a short connection of its own, so that
QEMU's monitor stays free for others. After VIRTDEV_STOP_TIMEOUT seconds
(default 60) QEMU gets SIGTERM, and SIGKILL if it still runs 10 seconds later.
Before pressing, it asks QEMU whether the guest runs. A guest that failed
(QEMU status internal-error or guest-panicked) cannot handle the button, and
QEMU gets SIGTERM at once. A machine QEMU paused is continued first, so that
its guest sees the button: one paused by a user (status paused) at once, one
paused because a disk found the host file system full (status io-error)
once that file system has room again (16 MiB). Without room the machine is
left paused: a clean poweroff needs space first, as the guest writes while
it shuts down; the message names the file system and what to free, then
virtdev-stop again continues and powers it off. With --force, QEMU gets
SIGTERM at once, whatever the guest's state, and nothing is waited for but
QEMU's exit. The program returns as soon as QEMU has exited; the port file
and sockets are gone by then.

How the machine ended is printed on stdout (clean, forced or unknown) and
recorded, with QEMU's reason, exit status and the time, in the machine's
shutdown file (virtdev-path <project> shutdown).

"virtdev-stop maintenance" aborts a virtdev-maintain session: the base is
not resealed, even when the guest powers off cleanly.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "the guest powered off cleanly, or, with --force, QEMU was stopped as asked"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning,
		{N: exitForced, Meaning: "forced stop without --force: the guest did not power off (or could not), QEMU was signalled"},
		{N: exitUnknownEnd, Meaning: "QEMU ended without reporting a shutdown (it likely crashed)"},
		{N: exitStuck, Meaning: "the machine still runs after SIGTERM and SIGKILL"},
		exitcode.Output, exitcode.Locked, exitcode.Config, exitcode.NoUserManager,
		exitcode.Unusable, exitcode.HomeUnusable, exitcode.Paused,
	},
	Options: &opts,
	Run:     run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	name := args[0]
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	l, m, err := env.Machine(name)
	if err != nil {
		return err
	}
	maintenance := name == layout.Maintenance
	// The machine's own lock. virtdev-maintain holds the base lock for
	// its whole session, not this one: stopping its machine is how a
	// session is aborted, and once the machine is down it waits for this
	// lock to learn whether a stop was under way (see lib/maintain).
	held, err := lock.Project(l, name, programName)
	if err != nil {
		return err
	}
	defer held.Release()
	// The port file is there exactly while the machine runs: without it,
	// there is nothing to ask systemd about.
	if _, err := project.ReadPort(m); exitcode.For(err) == exitcode.NotRunning.N {
		return exitcode.New(exitcode.NotRunning, "%s is not running (no port file %s)\nStart it with: virtdev-start %s; if its unit runs all the same: systemctl --user stop %s",
			name, m.Port, name, layout.Unit(name))
	}
	units, err := unit.Connect(env.Ctx)
	if err != nil {
		return err
	}
	defer units.Close()

	rec, err := qemu.Stop(env.Ctx, units, m, qemu.StopOptions{
		Timeout:     cfg.StopTimeout,
		ResetFailed: !maintenance,
		Force:       opts.Force,
		Progress:    env.Infof,
	})
	var (
		notRunning *qemu.NotRunningError
		stuck      *qemu.StuckError
		halted     *qemu.HaltedError
	)
	switch {
	case errors.As(err, &notRunning):
		return exitcode.New(exitcode.NotRunning, "%s is not running (%s is not active)\nStart it with: virtdev-start %s", name, notRunning.Unit, name)
	case errors.As(err, &stuck):
		return cli.Errorf(exitStuck, "%v", err)
	case errors.As(err, &halted):
		return &exitcode.Error{Code: exitcode.Paused, Message: needsRoom(halted), Err: err}
	case rec.How == "":
		return err
	}
	// The machine is down; whatever else failed (the record, the cleanup)
	// is reported after how it ended.
	fmt.Fprintln(env.Stdout, rec.How)
	switch rec.How {
	case runstate.Clean:
		env.Infof("%s: clean guest poweroff after %.1fs (power button pressed %d×)", name, rec.After, rec.Presses)
	case runstate.Forced:
		if opts.Force {
			env.Infof("%s: stopped at once, as --force asked, after %.1fs (%s)%s", name, rec.After, forcedHow(rec), stateWhenForced(name, rec))
			return err
		}
		return cli.Errorf(exitForced, "%s: forced stop after %.1fs (%s): %s%s",
			name, rec.After, forcedHow(rec), whyForced(name, rec), trailer(err))
	default:
		return cli.Errorf(exitUnknownEnd, "%s: QEMU exited after %.1fs without reporting a shutdown (%s)\nRead its messages: journalctl --user -u %s%s",
			name, rec.After, orUnknown(rec.Exit), layout.Unit(name), trailer(err))
	}
	return err
}

// needsRoom explains why a machine paused on a full disk was left paused:
// it cannot power off cleanly before there is room again.
func needsRoom(h *qemu.HaltedError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is paused: %s\n", h.Name, h.Reason())
	if len(h.Full) > 0 {
		fmt.Fprintf(&b, "QEMU paused the guest when it found no room to write %s.\n", strings.Join(h.Full, ", "))
	}
	where := "under its disks"
	if h.Space != nil && h.Space.MountPoint != "" {
		where = fmt.Sprintf("on %s (see what takes it: %s)", h.Space.MountPoint, h.Space.Survey())
	}
	fmt.Fprintf(&b, "A clean poweroff needs space first: the guest writes as it shuts down. Free at least %s %s,\nthen run virtdev-stop %s again: it continues the machine, then powers it off.\n",
		fsutil.SizeText(runstate.ResumeRoom), where, h.Name)
	fmt.Fprintf(&b, "Or stop it now, without a clean poweroff: virtdev-stop --force %s", h.Name)
	return b.String()
}

// stateWhenForced says what state a guest stopped by --force was in, when
// it was not running.
func stateWhenForced(name string, rec runstate.Shutdown) string {
	if rec.State == "" {
		return ""
	}
	return fmt.Sprintf("; the guest was not running (QEMU status %s): %s", rec.State, rec.State.Explain(name))
}

// whyForced says why the guest did not power off by itself.
func whyForced(name string, rec runstate.Shutdown) string {
	switch {
	case rec.State != "":
		return fmt.Sprintf("the guest was not running (QEMU status %s), so it could not handle the power button: %s",
			rec.State, rec.State.Explain(name))
	case rec.Presses == 0:
		return "the power button could not be pressed: QEMU's monitor was unreachable\nThe guest's file systems were not unmounted cleanly."
	}
	return fmt.Sprintf("the guest ignored the power button (pressed %d×)\nIts file systems were not unmounted cleanly; in the guest, logind (or acpid) must handle the power button.", rec.Presses)
}

func forcedHow(rec runstate.Shutdown) string {
	switch {
	case rec.Signal != "" && rec.Reason != "":
		return rec.Signal + ", QEMU reason " + rec.Reason
	case rec.Signal != "":
		return rec.Signal
	}
	return "QEMU reason " + rec.Reason
}

func orUnknown(s string) string {
	if s == "" {
		return "exit status unknown"
	}
	return s
}

// trailer appends a secondary failure to a message about how the machine
// ended.
func trailer(err error) string {
	if err == nil {
		return ""
	}
	return "\nAlso: " + err.Error()
}
