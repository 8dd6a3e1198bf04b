// Command virtdev-maintain updates the sealed base: it boots a writable copy
// of it, waits for the user (or a script) to change it and power it off,
// and reseals the copy as the new base, one generation up.
//
//	virtdev-maintain [OPTIONS]
//
// The session runs as the machine "maintenance" (virtdev-ssh, virtdev-stop
// and the other runtime programs accept that name while it runs). The base
// is resealed only after the guest powered itself off and sealed itself
// (its SSH host keys removed); anything else leaves the old base as it was
// and the staging copy for inspection. stdout: the maintenance machine's
// SSH port once the session is open, then the new base's generation. The
// session is lib/maintain's, which virtdev-upgrade runs too.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/dispatch"
	"virtdev/lib/exitcode"
	"virtdev/lib/firmware"
	"virtdev/lib/lock"
	"virtdev/lib/maintain"
	"virtdev/lib/qemu"
	"virtdev/lib/sshx"
	"virtdev/lib/term"
	"virtdev/lib/unit"
)

const (
	exitOrphan         = 10
	exitStaging        = 11
	exitHook           = 12
	exitNotInteractive = 13
	exitHostSetup      = 14
	exitNoKVM          = 15
	exitCopy           = 16
	exitPort           = 17
	exitBoot           = 18
	exitSSH            = 19
	exitKey            = 20
	exitArm            = 21
	exitProvision      = 22
	exitInventory      = 23
	exitAborted        = 24
	exitForced         = 25
	exitCrashed        = 26
	exitUnsealed       = 27
	exitDeclined       = 28
	exitSystemCheck    = 29
	exitHomeCheck      = 30
	exitNoQemuImg      = 31
	exitNumbering      = 32
	exitReseal         = 33
	exitRecovery       = 34
)

type options struct {
	Yes         bool `short:"y" long:"yes" description:"reseal without asking once the guest has powered off and sealed itself"`
	NoProvision bool `long:"no-provision" description:"run neither the provision hook nor VIRTDEV_SCRIPT"`
	NoInventory bool `long:"no-inventory" description:"run no inventory hook"`
}

var opts options

var command = cli.Command{
	Name:    lock.MaintainProgram,
	Group:   cli.Setup,
	Summary: "Boot a writable copy of the sealed base, and reseal it when it powers off.",
	Description: `Copies the sealed base to $VIRTDEV_HOME/maintenance/ (sharing the blocks
where the file system can) and boots it as the machine "maintenance", the
systemd user unit virtdev-maintenance.service, with SSH on the lowest free
port from 2222. Work in it from another terminal, then power it off from
inside:
  virtdev-ssh maintenance            a shell (virtdev-status, -port, -pid,
                                     -wait and -console take the name too)
  sudo poweroff                      in the guest: ends the session
  virtdev-stop maintenance           aborts it: nothing is resealed

Once SSH answers, the session prepares the guest to seal itself when it
powers off (its SSH host keys are removed and its machine id reset, so that
every machine made from the new base makes its own), takes the inventory,
then runs VIRTDEV_SCRIPT as root and ~/.config/virtdev/maintenance/provision
as dev, each with no input; the port is then printed on stdout and the
session is open.

The inventory hook (VIRTDEV_INVENTORY, else
~/.config/virtdev/maintenance/inventory) runs as root in the guest before the
session and again as it powers off; the difference is shown before the
reseal.

The base is resealed only when the machine's supervisor recorded that the
guest powered itself off (QEMU's SHUTDOWN event, never its exit status,
which is 0 after SIGTERM too), virtdev-stop did not stop it, and the guest
reported that it sealed itself. Then, after a confirmation (or with --yes),
both images must pass qemu-img check, and the copy replaces the base in one
step, as a generation one above the old one and above any a project
records; the projects derived from the old base are named, and
virtdev-upgrade rebuilds them. A reseal cut short at any instant (SIGKILL,
a crash) leaves the old base or the new one, whole, which the next
virtdev-maintain puts back in place.

Anything else (a stop from the host, a crash, a failed hook, a declined
reseal) leaves the old base as it was and the staging copy for inspection;
the message says how to remove it.

For scripts, --yes and a poweroff over SSH:
  virtdev-maintain --yes | { read port; virtdev-ssh maintenance sudo poweroff; read generation; }

It refuses while a machine of this VIRTDEV_HOME runs, while a maintenance
machine runs without its session, or while the staging directory of an
earlier session is there. It holds the base lock exclusively for the whole
session.`,
	Options: &opts,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "resealed; the new generation is on stdout, after the port"},
		exitcode.Running,
		{N: exitOrphan, Meaning: "a maintenance machine runs without its session"},
		{N: exitStaging, Meaning: "an earlier session's staging directory is there"},
		{N: exitHook, Meaning: "a hook cannot be read (VIRTDEV_SCRIPT, VIRTDEV_INVENTORY or one in ~/.config/virtdev/maintenance)"},
		{N: exitNotInteractive, Meaning: "no terminal to confirm the reseal on, and no --yes"},
		{N: exitHostSetup, Meaning: "QEMU, the UEFI firmware, virtdev-supervise or ssh is missing"},
		{N: exitNoKVM, Meaning: "VIRTDEV_ACCEL=kvm but /dev/kvm is not usable"},
		{N: exitCopy, Meaning: "the base could not be copied to the staging directory"},
		{N: exitPort, Meaning: "no SSH port is free, or one was taken while QEMU started"},
		{N: exitBoot, Meaning: "QEMU failed at boot"},
		{N: exitSSH, Meaning: "SSH did not let dev in within VIRTDEV_WAIT_TIMEOUT (or the guest failed or was paused)"},
		{N: exitKey, Meaning: "the SSH key cannot be read or has a passphrase"},
		{N: exitArm, Meaning: "the guest could not be prepared to seal itself"},
		{N: exitProvision, Meaning: "VIRTDEV_SCRIPT or the provision hook failed in the guest"},
		{N: exitInventory, Meaning: "the inventory hook failed in the guest before the session"},
		{N: exitAborted, Meaning: "virtdev-stop maintenance aborted the session"},
		{N: exitForced, Meaning: "the maintenance machine was stopped from the host (a signal to QEMU): not resealed"},
		{N: exitCrashed, Meaning: "QEMU ended without a shutdown (killed with SIGKILL, or crashed): not resealed"},
		{N: exitUnsealed, Meaning: "the guest powered off without sealing itself (before the session was open, or its seal failed)"},
		{N: exitDeclined, Meaning: "the reseal was declined"},
		{N: exitSystemCheck, Meaning: "the maintained system image fails its check"},
		{N: exitHomeCheck, Meaning: "the maintained home image fails its check"},
		{N: exitNoQemuImg, Meaning: "qemu-img cannot be run"},
		{N: exitNumbering, Meaning: "no generation can be chosen: a project's generation file is damaged, or records the last one"},
		{N: exitReseal, Meaning: "resealing failed; the old base is in place"},
		{N: exitRecovery, Meaning: "what an interrupted seal or reseal left cannot be put right (the message says where it is)"},
		exitcode.Output, exitcode.Locked, exitcode.KeyMissing, exitcode.KeyPermissions, exitcode.TriggerRefused,
		exitcode.Config, exitcode.NoUserManager, exitcode.NoBase, exitcode.BaseDamaged, exitcode.HomeUnusable, exitcode.UnitLeftover,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, _ []string) error {
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	held, err := lock.Base(l, env.Name, lock.Exclusive)
	if err != nil {
		return err
	}
	defer held.Release()

	s := &maintain.Session{
		Layout: l, Config: cfg,
		Yes: opts.Yes, NoProvision: opts.NoProvision, NoInventory: opts.NoInventory,
		Prompt: env.Prompt, Stderr: env.Stderr, Environ: os.Environ(),
		Stagef: env.Stagef, Infof: env.Infof, Warnf: env.Warnf,
		Ready: func(port int) { fmt.Fprintln(env.Stdout, port) },
	}
	plan, err := s.Plan()
	if err != nil {
		return explain(err)
	}
	host, warning, err := qemu.HostOptions(cfg, env.Getenv)
	if err != nil {
		return explain(err)
	}
	supervisor, ok := dispatch.Find(dispatch.SelfDir(), "supervise")
	if !ok {
		return cli.Errorf(exitHostSetup, "virtdev-supervise, which runs every machine, is neither beside %s nor on PATH\nInstall virtdev whole (make install installs every program).", env.Name)
	}
	host.Supervisor = supervisor
	s.Host = host
	if warning != "" {
		env.Warnf("%s", warning)
	}
	units, err := unit.Connect(env.Ctx)
	if err != nil {
		return err
	}
	defer units.Close()
	s.Units = units

	result, err := s.Run(env.Ctx, plan)
	if err != nil {
		return explain(err)
	}
	env.Infof("%s", env.Palette.Paint(fmt.Sprintf("Base resealed: generation %s (was %s)", result.Generation, result.Previous), term.Green, false))
	if n := len(result.Outdated); n > 0 {
		env.Infof("%d project(s) derived from the old base no longer start: %s\nRebuild them on the new base, keeping what their backup manifests list:\n    virtdev-upgrade\n(or one at a time: virtdev-recreate <project>)",
			n, strings.Join(result.Outdated, ", "))
	} else {
		env.Infof("No project needs rebuilding.")
	}
	fmt.Fprintln(env.Stdout, result.Generation)
	return nil
}

// explain gives the session's failures their exit codes.
func explain(err error) error {
	var (
		orphan    *maintain.OrphanError
		staging   *maintain.StagingError
		hook      *maintain.HookError
		notInter  *maintain.NotInteractiveError
		setup     *qemu.SetupError
		fw        *firmware.Error
		accel     *qemu.AccelError
		copyErr   *maintain.CopyError
		port      *qemu.PortError
		boot      *qemu.BootError
		running   *qemu.RunningError
		sshErr    *maintain.SSHError
		key       *maintain.KeyError
		arm       *maintain.ArmError
		end       *maintain.EndError
		declined  *maintain.DeclinedError
		check     *maintain.CheckError
		numbering *base.NumberingError
		resealing *base.ResealingError
		recovery  *maintain.RecoveryError
	)
	switch {
	case errors.As(err, &orphan), errors.As(err, &running):
		return cli.Wrap(exitOrphan, err, "cannot start a session")
	case errors.As(err, &staging):
		return cli.Errorf(exitStaging, "%v", err)
	case errors.As(err, &hook) && hook.Staging == "":
		return cli.Errorf(exitHook, "%v", err)
	case errors.As(err, &hook) && hook.Hook == "inventory":
		return cli.Errorf(exitInventory, "%v", err)
	case errors.As(err, &hook):
		return cli.Errorf(exitProvision, "%v", err)
	case errors.As(err, &notInter):
		return cli.Errorf(exitNotInteractive, "%v", err)
	case errors.Is(err, sshx.ErrNoSSH), errors.As(err, &setup), errors.As(err, &fw):
		return cli.Wrap(exitHostSetup, err, "cannot run the maintenance machine")
	case errors.As(err, &accel):
		return cli.Errorf(exitNoKVM, "%v", err)
	case errors.As(err, &copyErr):
		return cli.Errorf(exitCopy, "%v", err)
	case errors.As(err, &port):
		return cli.Errorf(exitPort, "%v", err)
	case errors.As(err, &boot):
		return cli.Errorf(exitBoot, "%v\nNothing was left behind; the sealed base is unchanged.", err)
	case errors.As(err, &sshErr):
		return cli.Errorf(exitSSH, "%v", err)
	case errors.As(err, &key):
		return cli.Errorf(exitKey, "%v", err)
	case errors.As(err, &arm):
		return cli.Errorf(exitArm, "%v", err)
	case errors.As(err, &end):
		return cli.Errorf(map[maintain.End]int{
			maintain.Aborted: exitAborted, maintain.Forced: exitForced,
			maintain.Crashed: exitCrashed, maintain.Unsealed: exitUnsealed,
		}[end.End], "%v", err)
	case errors.As(err, &declined):
		return cli.Errorf(exitDeclined, "%v", err)
	case errors.As(err, &check) && !check.Ran:
		return cli.Errorf(exitNoQemuImg, "%v", err)
	case errors.As(err, &check) && check.Which == "system":
		return cli.Errorf(exitSystemCheck, "%v", err)
	case errors.As(err, &check):
		return cli.Errorf(exitHomeCheck, "%v", err)
	case errors.As(err, &numbering):
		return cli.Errorf(exitNumbering, "%v\nThe new base must be numbered above every project's generation. Restore %s, or remove the project: virtdev-destroy %s",
			err, numbering.Path, numbering.Project)
	case errors.As(err, &resealing):
		return cli.Errorf(exitReseal, "%v", err)
	case errors.As(err, &recovery):
		return cli.Errorf(exitRecovery, "%v", err)
	}
	return err
}
