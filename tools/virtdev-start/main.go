// Command virtdev-start boots a project's virtual machine in the background.
//
//	virtdev-start [OPTIONS] <project> [port]
//
// The machine runs as the transient systemd user unit virtdev-<project>.service;
// the program returns once QEMU is up and prints the SSH port (on 127.0.0.1)
// on stdout. Without a port it takes the lowest free one from 2222. A project
// boots only on the base generation it was created from, unless detached.
//
// Exit codes: 0 started; 2 invalid or reserved name; 3 project not found;
// 4 a disk or the NVRAM missing; 5 QEMU or firmware missing, or unusable
// paths; 6 already running; 8 port in use; 9 base generation missing;
// 10 project generation missing; 11 base changed since the project was
// created; 12 QEMU failed at boot; 13 base generation corrupt; 14 project
// generation corrupt; 16 KVM requested but unusable; 64 usage or invalid
// port; 75 lock held; 81 bad environment variable; 82 systemd user manager
// unreachable.
package main

import (
	"errors"
	"fmt"

	"virtdev/lib/cli"
	"virtdev/lib/firmware"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/qemu"
	"virtdev/lib/unit"
	"virtdev/lib/validate"
)

const (
	exitNoProject         = 3
	exitMissingFile       = 4
	exitHostSetup         = 5
	exitRunning           = 6
	exitPortInUse         = 8
	exitNoBaseGeneration  = 9
	exitNoGeneration      = 10
	exitGenerationChanged = 11
	exitBootFailed        = 12
	exitBadBaseGeneration = 13
	exitBadGeneration     = 14
	exitNoKVM             = 16
)

const programName = "virtdev-start"

var command = cli.Command{
	Name:     programName,
	Synopsis: "<project> [port]",
	Summary:  "Boot a project's virtual machine in the background and print its SSH port.",
	Description: `The machine runs as the systemd user unit virtdev-<project>.service:
  systemctl --user status virtdev-<project>    state and recent messages
  journalctl --user -u virtdev-<project>       all of QEMU's messages
  virtdev-stop <project>                       clean ACPI shutdown

SSH is forwarded from 127.0.0.1:<port> only. Without a port, the lowest free
one from 2222 is used. stdout holds only the port. The program returns when
QEMU is up; the guest is still booting: virtdev-wait <project> waits for SSH.

A project boots only on the base generation it was created from (detached
projects on any). KVM is used when /dev/kvm is usable, else TCG emulation
with a warning; VIRTDEV_ACCEL=auto|kvm|tcg overrides. VIRTDEV_VM_MEMORY and
VIRTDEV_VM_CPUS size the machine; OVMF_CODE and OVMF_VARS choose firmware.

Serial console: socat - UNIX-CONNECT:"$(virtdev-path <project> console)"

Exit codes:
  0   started; the port is on stdout
  2   invalid project name, or the reserved name maintenance
  3   project not found
  4   a disk or the UEFI variable store of the project is missing
  5   QEMU or the UEFI firmware is missing, or a socket path is too long
  6   the machine is already running
  8   the port is in use (also when taken while QEMU started), or none free
  9   the sealed base has no generation file
  10  the project has no generation file
  11  the base changed since the project was created
  12  QEMU failed at boot; its port file and sockets are gone, the failed
      unit stays loaded for journalctl until the next start
  13  the base's generation file is corrupt
  14  the project's generation file is corrupt
  16  VIRTDEV_ACCEL=kvm but /dev/kvm is not usable
  64  usage error or invalid port
  75  another virtdev program holds the lock
  81  malformed environment variable
  82  the systemd user manager cannot be reached`,
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if err := cli.Positionals(args, 1, 2); err != nil {
		return err
	}
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
	// Held until QEMU is up, so that no other program sees the project
	// half started.
	held, err := lock.Acquire(l, programName)
	if err != nil {
		return err
	}
	defer held.Release()

	m := l.Project(name)
	if !project.Exists(l, name) {
		return cli.Errorf(exitNoProject, "project %q not found (no directory %s)\nCreate it with: virtdev-create %s", name, m.Dir, name)
	}
	if err := checkGeneration(l, name); err != nil {
		return err
	}
	units, err := unit.Connect(env.Ctx)
	if err != nil {
		return cli.Wrap(cli.ExitNoUserManager, err, "cannot start %s", name)
	}
	defer units.Close()
	opts, warning, err := qemu.HostOptions(cfg, env.Getenv)
	if err != nil {
		return explain(name, err)
	}
	opts.Port = port
	if lingering, known := unit.Lingering(env.Ctx); known && !lingering {
		env.Warnf("lingering is off: your machines stop when your last login session ends\nKeep them running: loginctl enable-linger %s", orDefault(env.Getenv("USER"), "$USER"))
	}
	port, err = qemu.Start(env.Ctx, units, m, opts)
	if err != nil {
		return explain(name, err)
	}
	// Said after the start, where it cannot drown a refusal.
	if warning != "" {
		env.Warnf("%s", warning)
	}
	env.Infof("Started %s (%s, %d MiB, %d CPUs) with SSH on 127.0.0.1:%d.\nWait for SSH: virtdev-wait %s; stop it: virtdev-stop %s",
		name, opts.Accel, opts.MemoryMB, opts.CPUs, port, name, name)
	fmt.Fprintln(env.Stdout, port)
	return nil
}

// checkGeneration refuses a project whose disks are deltas over another
// base than the sealed one: QEMU would compose them silently and corrupt
// the file systems.
func checkGeneration(l layout.Layout, name string) error {
	recreate := fmt.Sprintf("Rebuild it on the current base, keeping the paths its backup manifest lists:\n    virtdev-recreate %s", name)
	var corrupt *project.CorruptError
	own, err := project.ReadGeneration(l.Project(name).Generation, true)
	switch {
	case errors.Is(err, project.ErrNoGeneration):
		return cli.Errorf(exitNoGeneration, "project %q has no generation file %s\nWithout it nothing tells which base its disks belong to.\n%s",
			name, l.Project(name).Generation, recreate)
	case errors.As(err, &corrupt):
		return cli.Errorf(exitBadGeneration, "%v\nRepair it by hand (it holds the base generation the project was created on, or \"detached\"), or:\n%s",
			err, recreate)
	case err != nil:
		return cli.Wrap(exitBadGeneration, err, "cannot read the generation of %q", name)
	case own.Detached:
		return nil
	}
	base, err := project.ReadGeneration(l.System().Generation, false)
	switch {
	case errors.Is(err, project.ErrNoGeneration):
		return cli.Errorf(exitNoBaseGeneration, "the sealed base has no generation file %s\nIf there is no base, build and seal one: virtdev-bootstrap && virtdev-seal", l.System().Generation)
	case errors.As(err, &corrupt):
		return cli.Errorf(exitBadBaseGeneration, "%v\nThe sealed base is damaged; repair the file by hand (a single positive whole number).", err)
	case err != nil:
		return cli.Wrap(exitBadBaseGeneration, err, "cannot read the base generation")
	case own.Number != base.Number:
		return cli.Errorf(exitGenerationChanged, "the base changed since project %q was created (base generation %d, project generation %d)\nStarting it could corrupt its file systems.\n%s",
			name, base.Number, own.Number, recreate)
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
		bus     *unit.BusError
	)
	switch {
	case errors.As(err, &missing):
		return cli.Errorf(exitMissingFile, "project %q is damaged: %v\nRestore the file, or rebuild the project on the current base:\n    virtdev-recreate %s", name, err, name)
	case errors.As(err, &setup), errors.As(err, &fw):
		return cli.Wrap(exitHostSetup, err, "cannot start %s", name)
	case errors.As(err, &running):
		return cli.Errorf(exitRunning, "project %q is already running (%s is %s)\nConnect with: virtdev-ssh %s; stop it with: virtdev-stop %s", name, running.Unit, running.State, name, name)
	case errors.As(err, &port):
		return cli.Errorf(exitPortInUse, "%v", err)
	case errors.As(err, &boot):
		return cli.Errorf(exitBootFailed, "%v\nNo port file or socket was left behind.", err)
	case errors.As(err, &accel):
		return cli.Errorf(exitNoKVM, "%v", err)
	case errors.As(err, &bus):
		return cli.Wrap(cli.ExitNoUserManager, err, "cannot start %s", name)
	}
	return err
}

func orDefault(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}
