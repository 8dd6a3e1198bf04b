// Command virtdev-install installs the Arch Linux base from its ISO.
//
//	virtdev-install [OPTIONS] [iso]
//
// It boots the ISO (default VIRTDEV_ISO, from virtdev-iso) in an installer
// machine with two empty disks and a fresh UEFI variable store, shows the
// installer's serial console on stderr, and succeeds only when the
// installer powers the machine off itself. The result is
// $VIRTDEV_HOME/installation/, for virtdev-seal; on any failure nothing is
// left. The machine's supervisor, and QEMU under it, run as this program's
// child, not as a user unit. stdout: the installation directory.
package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/dispatch"
	"virtdev/lib/exitcode"
	"virtdev/lib/firmware"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/qemu"
)

const (
	exitExists    = 10
	exitNoMedium  = 11
	exitSetup     = 12
	exitHostSetup = 13
	exitNoKVM     = 14
	exitFailed    = 15
	exitStopped   = 16
	exitCrashed   = 17
	exitTimeout   = 18
	exitLeftovers = 19
)

// The default timeout bounds an installation: it downloads and installs a
// whole system, which takes minutes under KVM and can take an hour under
// TCG on a slow line; an installer stuck beyond that is stopped.
type options struct {
	Timeout time.Duration `long:"timeout" value-name:"DURATION" default:"2h" description:"stop an installation that has not finished after DURATION (such as 90m); 0 waits as long as it takes"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-install",
	Group:   cli.Setup,
	Summary: "Install the Arch Linux base from the ISO into installation/.",
	Args:    []cli.Arg{{Name: "iso", Kind: cli.ArgFile, Optional: true}},
	Description: `Boots the installation ISO (default: $VIRTDEV_ISO, which virtdev-iso builds)
in an installer machine: two empty qcow2 disks of VIRTDEV_SYSTEM_DISK_SIZE
(default 24G) and VIRTDEV_HOME_DISK_SIZE (default 48G), a fresh copy of the
firmware's UEFI variable store, and the network every virtdev machine has,
in the zone VIRTDEV_MAINTENANCE_NET names (default wan: the public internet
only, not the host nor its LAN; full to reach a package mirror there), for
the installer's downloads, with nothing forwarded in. The installer's
serial console is shown on stderr as it comes.

It succeeds only when the installer powers the machine off itself (QEMU's
SHUTDOWN event from the guest, reason guest-shutdown): the installation is
then $VIRTDEV_HOME/installation/, printed on stdout; seal it with
virtdev-seal. An installer that fails reboots, which ends the machine; a
QEMU that crashes or is stopped from outside, an installation that takes
longer than --timeout, or an interrupt (Ctrl-C): each stops the machine and
leaves nothing behind. The disks are made in a scratch directory beside
installation/ and renamed to it at the end.

QEMU runs under virtdev-supervise, which gives the machine its network, both
as this program's child, under KVM when /dev/kvm is usable, else TCG
(VIRTDEV_ACCEL overrides), with VIRTDEV_VM_MEMORY and VIRTDEV_VM_CPUS;
OVMF_CODE and OVMF_VARS choose the firmware. It needs no systemd user
manager. It refuses when installation/ exists, and holds the base lock
exclusively while it runs.`,
	Options: &opts,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "installed; the installation directory is on stdout"},
		{N: exitExists, Meaning: "installation/ already exists"},
		{N: exitNoMedium, Meaning: "the ISO does not exist"},
		{N: exitSetup, Meaning: "the ISO cannot be read, or the disks or the variable store cannot be made (a disk size too small, a full disk)"},
		{N: exitHostSetup, Meaning: "QEMU, the UEFI firmware or virtdev-supervise is missing"},
		{N: exitNoKVM, Meaning: "VIRTDEV_ACCEL=kvm but /dev/kvm is not usable"},
		{N: exitFailed, Meaning: "the installer failed: it reset the machine instead of powering it off"},
		{N: exitStopped, Meaning: "the installer machine was stopped from outside (a signal to QEMU, a quit over QMP)"},
		{N: exitCrashed, Meaning: "QEMU ended without a shutdown: it could not start the machine, or crashed"},
		{N: exitTimeout, Meaning: "the installation did not finish within --timeout"},
		{N: exitLeftovers, Meaning: "what an interrupted installation or seal left cannot be removed or put back"},
		exitcode.Output, exitcode.Locked, exitcode.Config, exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	if opts.Timeout < 0 {
		return cli.Usage("--timeout=%s is negative: give a duration such as 90m, or 0 to wait as long as it takes", opts.Timeout)
	}
	medium := cfg.ISO
	if len(args) == 1 {
		medium = args[0]
	}
	// QEMU runs in the scratch directory: a relative path would be its.
	if medium, err = filepath.Abs(medium); err != nil {
		return err
	}
	held, err := lock.Base(l, env.Name, lock.Exclusive)
	if err != nil {
		return err
	}
	defer held.Release()
	if err := recoverLeftovers(env, l); err != nil {
		return err
	}
	host, warning, err := qemu.HostOptions(cfg, env.Getenv)
	if err != nil {
		return explain(err)
	}
	// Not found, it stays empty: Install refuses it, after the checks of
	// the installation itself.
	supervisor, _ := dispatch.Find(dispatch.SelfDir(), "supervise")
	install := qemu.Install{
		QEMU: host.QEMU, Supervisor: supervisor, Zone: cfg.MaintenanceNet,
		Accel: host.Accel, CPU: host.CPU, MemoryMB: host.MemoryMB, CPUs: host.CPUs,
		Firmware: host.Firmware, Medium: medium, Dest: l.Installation(),
		SystemSize: cfg.SystemDiskSize, HomeSize: cfg.HomeDiskSize,
		Timeout: opts.Timeout, Console: env.Stderr, Stage: env.Stagef,
	}
	removed, err := install.Sweep()
	for _, dir := range removed {
		env.Warnf("removed %s, left by an interrupted virtdev-install", dir)
	}
	if err != nil {
		return cli.Wrap(exitLeftovers, err, "cannot install")
	}
	if warning != "" {
		env.Warnf("%s", warning)
	}
	if err := install.Run(env.Ctx); err != nil {
		if env.Ctx.Err() != nil {
			return cli.Errorf(exitcode.Interrupted.N, "interrupted; the installer machine was stopped and nothing was left behind")
		}
		return explain(err)
	}
	env.Stagef("Installed the base into %s; seal it with: virtdev-seal", install.Dest.Dir)
	fmt.Fprintln(env.Stdout, install.Dest.Dir)
	return nil
}

// recoverLeftovers puts right what a seal or a reseal killed on the way
// left (a seal's may go back into installation/), and says what it did.
func recoverLeftovers(env *cli.Env, l layout.Layout) error {
	recovery, err := base.Recover(l)
	for _, done := range recovery.Done {
		env.Warnf("%s", done)
	}
	if err != nil {
		return cli.Wrap(exitLeftovers, err, "cannot put right what an interrupted seal left")
	}
	return nil
}

// explain gives the installer's failures their exit codes.
func explain(err error) error {
	var (
		exists  *qemu.InstallExistsError
		missing *qemu.MissingFileError
		setup   *qemu.InstallSetupError
		host    *qemu.SetupError
		fw      *firmware.Error
		accel   *qemu.AccelError
		failed  *qemu.InstallFailedError
		stopped *qemu.InstallStoppedError
		crash   *qemu.InstallCrashError
		timeout *qemu.InstallTimeoutError
	)
	switch {
	case errors.As(err, &exists):
		return cli.Errorf(exitExists, "%v", err)
	case errors.As(err, &missing):
		return cli.Errorf(exitNoMedium, "%v\nBuild it with virtdev-iso (on an Arch Linux host), or name the ISO: virtdev-install <iso>", err)
	case errors.As(err, &setup):
		return cli.Errorf(exitSetup, "%v", err)
	case errors.As(err, &host), errors.As(err, &fw):
		return cli.Wrap(exitHostSetup, err, "cannot run the installer machine")
	case errors.As(err, &accel):
		return cli.Errorf(exitNoKVM, "%v", err)
	case errors.As(err, &failed):
		return cli.Errorf(exitFailed, "%v\nNothing was left behind; fix what the installer says, rebuild the ISO if needed (virtdev-iso), and run virtdev-install again.", err)
	case errors.As(err, &stopped):
		return cli.Errorf(exitStopped, "%v\nNothing was left behind.", err)
	case errors.As(err, &crash):
		return cli.Errorf(exitCrashed, "%v\nNothing was left behind.", err)
	case errors.As(err, &timeout):
		return cli.Errorf(exitTimeout, "%v\nNothing was left behind. Give it longer: virtdev-install --timeout=4h", err)
	}
	return err
}
