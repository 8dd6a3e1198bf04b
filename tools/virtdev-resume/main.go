// Command virtdev-resume continues a machine that QEMU paused.
//
//	virtdev-resume [OPTIONS] <project>
//
// QEMU pauses a machine when a write to one of its disks finds the host
// file system full (QMP status io-error), or when a user stops it through
// the monitor (paused). Once there is room again, this continues it, and
// watches it for a moment: a disk still too full pauses it again at once,
// which is said. stdout stays empty: success is the exit status.
package main

import (
	"errors"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/qemu"
	"virtdev/lib/runstate"
)

const (
	exitFailed      = 10
	exitUnreachable = 11
)

const programName = "virtdev-resume"

var command = cli.Command{
	Name:    programName,
	Group:   cli.Lifecycle,
	Summary: "Continue a machine that QEMU paused, once it can go on.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgMachine}},
	Description: `QEMU pauses a machine when a write to one of its disks finds the host file
system full (QMP status io-error; virtdev-wait and virtdev-ssh then refuse it,
naming that file system), or when a user stops it through its monitor
(paused). The guest waits, frozen, with its writes kept.

Free space on that file system, then run virtdev-resume: it continues the
machine (QEMU first retries the writes that failed) and watches it for two
seconds. A machine paused on a full disk is continued only once the file
system has 16 MiB free again, and one that QEMU pauses again at once is
reported still paused, with the room left. Afterwards it warns when the room
is still below VIRTDEV_MIN_FREE.

A machine that runs is left as it is. A guest that failed (QMP status
internal-error or guest-panicked) cannot be continued: stop it.
"virtdev-resume maintenance" continues the maintenance machine; it takes no
lock, since virtdev-maintain reads that of its machine as a stop under way.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "the machine runs: continued, or running already"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.CorruptPort,
		{N: exitFailed, Meaning: "the guest failed (internal-error or guest-panicked) and cannot be continued"},
		{N: exitUnreachable, Meaning: "QEMU's monitor cannot be reached"},
		exitcode.Paused, exitcode.Locked, exitcode.Config, exitcode.Unusable, exitcode.HomeUnusable,
	},
	Run: run,
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
	// The maintenance machine's lock tells virtdev-maintain, when its
	// machine is down, that a stop was under way; continuing a machine
	// must not look like one.
	if name != layout.Maintenance {
		held, err := lock.Project(l, name, programName)
		if err != nil {
			return err
		}
		defer held.Release()
	}
	if _, err := project.ReadPort(m); err != nil {
		return err
	}
	found, err := qemu.Resume(env.Ctx, m, qemu.ResumeSettle)
	var (
		halted *qemu.HaltedError
		failed *qemu.FailedError
	)
	switch {
	case errors.As(err, &halted) && found.HasRoom():
		return &exitcode.Error{Code: exitcode.Paused, Err: err,
			Message: "QEMU paused it again at once after it was continued.\n" + err.Error()}
	case errors.As(err, &halted):
		return &exitcode.Error{Code: exitcode.Paused, Err: err,
			Message: "not continued: it would be paused again at once, with less than " + fsutil.SizeText(runstate.ResumeRoom) + " free.\n" + err.Error()}
	case errors.As(err, &failed):
		return cli.Errorf(exitFailed, "%v", err)
	case env.Ctx.Err() != nil:
		return env.Ctx.Err()
	case err != nil && found.State == "":
		return cli.Wrap(exitUnreachable, err, "cannot ask QEMU how %s is (is it stopping?)", name)
	case err != nil:
		return err
	case found.State == runstate.StateRunning:
		env.Infof("%s is running; there was nothing to continue", name)
		return nil
	}
	env.Infof("%s runs again (it was paused: %s)", name, found.Reason())
	if found.State == runstate.StateIOError {
		if warning := project.RoomWarning(m.Dir, cfg.MinFree); warning != "" {
			env.Warnf("%s", warning)
		}
	}
	return nil
}
