// Command virtdev-stop shuts a project's virtual machine down.
//
//	virtdev-stop [OPTIONS] <project>
//
// It presses the ACPI power button over QMP, again every few seconds (a
// guest still booting ignores a press), and sends QEMU SIGTERM when the
// guest has not powered off within VIRTDEV_STOP_TIMEOUT seconds, SIGKILL if
// even that fails. How the machine ended comes from QEMU's SHUTDOWN event,
// not its exit status (QEMU exits 0 on SIGTERM too); it is printed (clean,
// forced or unknown) on stdout and recorded in the machine's shutdown file.
// `virtdev-stop maintenance` aborts a virtdev-maintain session: it takes no
// lock and leaves the unit's final state to virtdev-maintain.
//
// Exit codes: 0 clean guest poweroff; 2 invalid name; 3 project not found;
// 4 not running; 5 still running after SIGKILL; 6 forced stop; 7 QEMU ended
// without reporting a shutdown; 64 usage; 75 lock held; 81 bad environment
// variable; 82 systemd user manager unreachable.
package main

import (
	"errors"
	"fmt"
	"os"

	"virtdev/lib/cli"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/qemu"
	"virtdev/lib/unit"
	"virtdev/lib/validate"
)

const (
	exitNoProject  = 3
	exitNotRunning = 4
	exitStuck      = 5
	exitForced     = 6
	exitUnknownEnd = 7
)

const programName = "virtdev-stop"

var command = cli.Command{
	Name:     programName,
	Synopsis: "<project>",
	Summary:  "Shut a project's virtual machine down, cleanly if the guest lets it.",
	Description: `Presses the ACPI power button over QMP, again every few seconds until the
guest powers off. After VIRTDEV_STOP_TIMEOUT seconds (default 60) QEMU gets
SIGTERM, and SIGKILL if it still runs 10 seconds later. The program returns
as soon as QEMU has exited; the port file and sockets go only then.

How the machine ended is printed on stdout (clean, forced or unknown) and
recorded, with QEMU's reason and the time, in the machine's shutdown file
($VIRTDEV_HOME/projects/<project>/shutdown).

"virtdev-stop maintenance" aborts a virtdev-maintain session; it takes no
lock, since virtdev-maintain holds it.

Exit codes:
  0   the guest powered off cleanly
  2   invalid project name
  3   project not found
  4   the machine is not running
  5   the machine still runs after SIGTERM and SIGKILL
  6   forced stop: the guest did not power off, QEMU was signalled
  7   QEMU ended without reporting a shutdown (it likely crashed)
  64  usage error
  75  another virtdev program holds the lock
  81  malformed environment variable
  82  the systemd user manager cannot be reached`,
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if err := cli.Positionals(args, 1, 1); err != nil {
		return err
	}
	name := args[0]
	if err := validate.ProjectName(name); err != nil {
		return err
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	maintenance := name == layout.Maintenance
	// virtdev-maintain holds the lock for its whole session, and stopping
	// its machine is how that session is aborted.
	if !maintenance {
		held, err := lock.Acquire(l, programName)
		if err != nil {
			return err
		}
		defer held.Release()
	}
	m := l.Machine(name)
	if info, err := os.Stat(m.Dir); err != nil || !info.IsDir() {
		if maintenance {
			return cli.Errorf(exitNoProject, "no maintenance session: %s does not exist\nStart one with: virtdev-maintain", m.Dir)
		}
		return cli.Errorf(exitNoProject, "project %q not found (no directory %s)\nList projects with: virtdev-list", name, m.Dir)
	}
	units, err := unit.Connect(env.Ctx)
	if err != nil {
		return cli.Wrap(cli.ExitNoUserManager, err, "cannot stop %s", name)
	}
	defer units.Close()

	rec, err := qemu.Stop(env.Ctx, units, m, qemu.StopOptions{
		Timeout:     cfg.StopTimeout,
		ResetFailed: !maintenance,
		Progress:    env.Infof,
	})
	var (
		notRunning *qemu.NotRunningError
		stuck      *qemu.StuckError
	)
	switch {
	case errors.As(err, &notRunning):
		return cli.Errorf(exitNotRunning, "%s is not running (%s is not active)\nStart it with: virtdev-start %s", name, notRunning.Unit, name)
	case errors.As(err, &stuck):
		return cli.Errorf(exitStuck, "%v", err)
	case rec.How == "":
		return err
	}
	// The machine is down; whatever else failed (the record, the cleanup)
	// is reported after how it ended.
	fmt.Fprintln(env.Stdout, rec.How)
	switch rec.How {
	case qemu.Clean:
		env.Infof("%s: clean guest poweroff after %.1fs (power button pressed %d×)", name, rec.After, rec.Presses)
	case qemu.Forced:
		why := fmt.Sprintf("the guest ignored the power button (pressed %d×)\nIts file systems were not unmounted cleanly; in the guest, logind (or acpid) must handle the power button.", rec.Presses)
		if rec.Presses == 0 {
			why = "the power button could not be pressed: QEMU's monitor was unreachable\nThe guest's file systems were not unmounted cleanly."
		}
		return cli.Errorf(exitForced, "%s: forced stop after %.0fs (%s): %s%s",
			name, rec.After, forcedHow(rec), why, trailer(err))
	default:
		return cli.Errorf(exitUnknownEnd, "%s: QEMU exited after %.1fs without reporting a shutdown (%s)\nRead its messages: journalctl --user -u %s%s",
			name, rec.After, orUnknown(rec.Exit), layout.Unit(name), trailer(err))
	}
	return err
}

func forcedHow(rec qemu.Shutdown) string {
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
