// Command virtdev-start boots a project's virtual machine in the background.
//
//	virtdev-start [OPTIONS] [--net=<zone>] <project> [port]
//
// The machine runs as the transient systemd user unit virtdev-<project>.service,
// whose main process is virtdev-supervise running QEMU behind the machine's
// network; the program returns once QEMU answers on QMP and prints the SSH
// port (on 127.0.0.1) on stdout. Without a port it takes the lowest free one
// from 2222. The network zone comes from --net, else from the project's
// host-side file ~/.config/virtdev/projects/<project>/net, else it is wan. A
// project boots only on the base generation it was created from, unless
// detached.
package main

import (
	"errors"
	"fmt"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/dispatch"
	"virtdev/lib/egress"
	"virtdev/lib/exitcode"
	"virtdev/lib/firmware"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/qemu"
	"virtdev/lib/sshx"
	"virtdev/lib/unit"
	"virtdev/lib/validate"
)

const (
	exitMissingFile   = 10
	exitNoGeneration  = 11
	exitBadGeneration = 12
	exitBaseChanged   = 13
	exitHostSetup     = 14
	exitNoKVM         = 15
	exitPortInUse     = 16
	exitBootFailed    = 17
	exitHostKey       = 18
)

type options struct {
	Net string `long:"net" value-name:"ZONE" choice:"none" choice:"wan" choice:"full" description:"the network zone: none, wan or full (default: the project's net file, else wan)"`
}

var opts options

const programName = "virtdev-start"

var command = cli.Command{
	Name:    programName,
	Group:   cli.Lifecycle,
	Summary: "Boot a project's virtual machine in the background and print its SSH port.",
	Args: []cli.Arg{
		{Name: "project", Kind: cli.ArgProject},
		{Name: "port", Kind: cli.ArgText, Optional: true},
	},
	Description: `The machine runs as the systemd user unit virtdev-<project>.service:
  systemctl --user status virtdev-<project>    state and recent messages
  journalctl --user -u virtdev-<project>       all of QEMU's messages
  virtdev-stop <project>                       clean ACPI shutdown

SSH is forwarded from 127.0.0.1:<port> only. Without a port, the lowest free
one from 2222 that no other machine's port file names is used. stdout holds
only the port. The program returns when QEMU is up; the guest is still
booting: virtdev-wait <project> waits for SSH.

The network zone decides what the guest reaches besides its SSH forward,
whatever it tries (every protocol, any address, names resolved or not):
  none  nothing at all
  wan   the public internet only: not the host (its loopback, its own
        addresses), not its LAN, nor any private, link-local, CGNAT or
        reserved range, IPv4 or IPv6 (the default)
  full  everything the host reaches, its loopback services included, as
        QEMU's own user networking allows (a warning says so)
--net chooses it for this start; otherwise the host-side file
~/.config/virtdev/projects/<project>/net names it (one word; the guest never
sees the file). A file that cannot be read or names no zone makes the
machine run in zone none, with a warning that says how to fix it. The zone
in force is recorded beside the port file while the machine runs.

The guest's SSH host key is the project's own, made on the host when the
project was created (or, for an older project, at its next start), handed to
the guest at boot and pinned in the project's known_hosts: every connection
checks it strictly.

A project boots only on the base generation it was created from (detached
projects on any). KVM is used when /dev/kvm is usable, else TCG emulation
with a warning; VIRTDEV_ACCEL=auto|kvm|tcg overrides. Under KVM the guest
gets the processor VIRTDEV_CPU names (default host); with
VIRTDEV_ACCEL=auto, a start that QEMU does not survive under KVM is tried
again under TCG. VIRTDEV_VM_MEMORY and VIRTDEV_VM_CPUS size the machine;
OVMF_CODE and OVMF_VARS choose firmware.

When QEMU fails at boot, its port file and sockets are gone and the failed
unit stays loaded for journalctl until the next start.

It warns when the file system holding the project has less room than
VIRTDEV_MIN_FREE (default 2G): when it is full, QEMU pauses the machine
until there is room again (virtdev-resume).

Serial console: virtdev-console <project>`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "started; the port is on stdout"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.Running,
		{N: exitMissingFile, Meaning: "a disk or the UEFI variable store of the project is missing"},
		{N: exitNoGeneration, Meaning: "the project has no generation file"},
		{N: exitBadGeneration, Meaning: "the project's generation file is corrupt"},
		{N: exitBaseChanged, Meaning: "the base changed since the project was created"},
		{N: exitHostSetup, Meaning: "QEMU, the UEFI firmware or virtdev-supervise is missing"},
		{N: exitNoKVM, Meaning: "VIRTDEV_ACCEL=kvm but /dev/kvm is not usable"},
		{N: exitPortInUse, Meaning: "the port is in use or another machine's (also when taken while QEMU started), or none is free"},
		{N: exitBootFailed, Meaning: "QEMU failed at boot; nothing of the attempt is left running"},
		{N: exitHostKey, Meaning: "the project's SSH host key cannot be read or made"},
		exitcode.Output, exitcode.Locked, exitcode.Config, exitcode.NoUserManager,
		exitcode.Unusable, exitcode.NoBase, exitcode.BaseDamaged, exitcode.HomeUnusable, exitcode.UnitLeftover,
	},
	Options: &opts,
	Run:     run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	name := args[0]
	if err := validate.NewProjectName(name); err != nil {
		return err
	}
	port := 0
	if len(args) == 2 {
		var err error
		if port, err = validate.Port(args[1]); err != nil {
			return err
		}
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	m, err := project.Find(l, name)
	if err != nil {
		return err
	}
	// Held until QEMU is up: the base must not change under a machine
	// about to open it, nor anyone else start or stop this one meanwhile.
	baseLock, err := lock.Base(l, programName, lock.Shared)
	if err != nil {
		return err
	}
	defer baseLock.Release()
	projectLock, err := lock.Project(l, name, programName)
	if err != nil {
		return err
	}
	defer projectLock.Release()

	// Everything that can be checked here is, before systemd is asked
	// anything.
	made, err := sshx.EnsureHostKey(m)
	if err != nil {
		return cli.Wrap(exitHostKey, err, "cannot give %s its SSH host key", name)
	}
	if made {
		fingerprint, _ := sshx.HostKeyFingerprint(m)
		env.Infof("%s had no SSH host key (it was made by an older virtdev); made one: %s", name, fingerprint)
	}
	if err := qemu.CheckFiles(m); err != nil {
		return explain(name, err)
	}
	if err := checkGeneration(l, m); err != nil {
		return err
	}
	start, warning, err := qemu.HostOptions(cfg, env.Getenv)
	if err != nil {
		return explain(name, err)
	}
	supervisor, ok := dispatch.Find(dispatch.SelfDir(), "supervise")
	if !ok {
		return cli.Errorf(exitHostSetup, "cannot start %s: virtdev-supervise, which runs every machine, is neither beside %s nor on PATH\nInstall virtdev whole (make install installs every program).", name, programName)
	}
	// go-flags took only a zone's name. A broken zone file is said at
	// once: it is the user's to fix, whatever becomes of this start.
	zone := egress.Zone(opts.Net)
	if zone == "" {
		var warning string
		if zone, warning = project.ConfiguredZone(l, name); warning != "" {
			env.Warnf("%s", warning)
		}
	}
	start.Port, start.Supervisor, start.Warn, start.Zone = port, supervisor, env.Warnf, zone

	units, err := unit.Connect(env.Ctx)
	if err != nil {
		return err
	}
	defer units.Close()
	if lingering, known := unit.Lingering(env.Ctx); known && !lingering {
		env.Warnf("lingering is off: your machines stop when your last login session ends\nKeep them running: loginctl enable-linger %s", orDefault(env.Getenv("USER"), "$USER"))
	}
	port, err = qemu.Start(env.Ctx, units, l, m, start)
	if err != nil {
		return explain(name, err)
	}
	// Said after the start, where they cannot drown a refusal.
	if warning != "" {
		env.Warnf("%s", warning)
	}
	if warning := project.RoomWarning(m.Dir, cfg.MinFree); warning != "" {
		env.Warnf("%s", warning)
	}
	if zone == egress.Full {
		env.Warnf("%s runs in network zone full: its guest reaches everything this host reaches, the services listening on the host's own 127.0.0.1 included\nRun it in zone wan (public internet only) unless it needs them: virtdev-stop %s && virtdev-start --net=wan %s", name, name, name)
	}
	env.Infof("Started %s (%d MiB, %d CPUs, network zone %s) with SSH on 127.0.0.1:%d.\nWait for SSH: virtdev-wait %s; stop it: virtdev-stop %s",
		name, start.MemoryMB, start.CPUs, zone, port, name, name)
	fmt.Fprintln(env.Stdout, port)
	return nil
}

// checkGeneration refuses a project whose disks are deltas over another
// base than the sealed one: QEMU would compose them silently and corrupt
// the file systems.
func checkGeneration(l layout.Layout, m layout.Machine) error {
	recreate := fmt.Sprintf("Rebuild it on the current base, keeping the paths its backup manifest lists:\n    virtdev-recreate %s", m.Name)
	var corrupt *project.CorruptError
	own, err := project.ReadGeneration(m.Generation, true)
	switch {
	case errors.Is(err, project.ErrNoGeneration):
		return cli.Errorf(exitNoGeneration, "project %q has no generation file %s\nWithout it nothing tells which base its disks belong to.\n%s",
			m.Name, m.Generation, recreate)
	case errors.As(err, &corrupt):
		return cli.Errorf(exitBadGeneration, "%v\nRepair it by hand (it holds the base generation the project was created on, or \"detached\"), or:\n%s",
			err, recreate)
	case err != nil:
		return cli.Wrap(exitBadGeneration, err, "cannot read the generation of %q", m.Name)
	case own.Detached:
		return nil
	}
	sealed, err := base.Sealed(l)
	if err != nil {
		return err
	}
	if own.Number != sealed.Number {
		return cli.Errorf(exitBaseChanged, "the base changed since project %q was created (base generation %d, project generation %d)\nStarting it could corrupt its file systems.\n%s",
			m.Name, sealed.Number, own.Number, recreate)
	}
	return nil
}

// explain gives a failure of the machine library its exit code and the
// advice that fits a project.
func explain(name string, err error) error {
	var (
		missing *qemu.MissingFileError
		setup   *qemu.SetupError
		fw      *firmware.Error
		running *qemu.RunningError
		port    *qemu.PortError
		boot    *qemu.BootError
		accel   *qemu.AccelError
	)
	switch {
	case errors.As(err, &missing):
		return cli.Errorf(exitMissingFile, "project %q is damaged: %v\nRestore the file, or rebuild the project on the current base:\n    virtdev-recreate %s", name, err, name)
	case errors.As(err, &setup), errors.As(err, &fw):
		return cli.Wrap(exitHostSetup, err, "cannot start %s", name)
	case errors.As(err, &running):
		return exitcode.New(exitcode.Running, "project %q is already running (%s is %s)\nConnect with: virtdev-ssh %s; stop it with: virtdev-stop %s", name, running.Unit, running.State, name, name)
	case errors.As(err, &port):
		return cli.Errorf(exitPortInUse, "%v", err)
	case errors.As(err, &boot):
		return cli.Errorf(exitBootFailed, "%v\nNo port file or socket was left behind.", err)
	case errors.As(err, &accel):
		return cli.Errorf(exitNoKVM, "%v", err)
	}
	return err
}

func orDefault(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}
