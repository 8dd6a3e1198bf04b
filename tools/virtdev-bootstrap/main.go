// Command virtdev-bootstrap builds a Debian base straight from packages.
//
//	virtdev-bootstrap [OPTIONS]
//
// It writes $VIRTDEV_HOME/installation/{system.qcow2,home.qcow2,nvram} with
// mmdebstrap — no ISO, no installer machine — ready for virtdev-seal. The
// system disk carries an ESP, an XBOOTLDR partition and an ext4 root, booted
// by OVMF and systemd-boot; the home disk is one ext4 filesystem labelled
// home. The guest keeps virtdev's contract: user dev with the virtdev public
// key, locked passwords, passwordless sudo, sshd with public keys only
// serving the host key each machine is handed at boot, hostname from fw_cfg,
// networkd and resolved, the ACPI power button, serial-console autologin.
//
// As an unprivileged user the build runs in a user namespace through the
// user's subordinate ids (/etc/subuid, /etc/subgid); as root it runs
// directly. The guest is installed and laid out on raw disks under $TMPDIR,
// the qcow2 images are written to a scratch directory beside installation/
// and renamed into place at the end, so a failure or an interrupt leaves
// nothing behind; what a build killed on the way left (SIGKILL, a crash),
// the next one finds and removes, under the base lock it holds
// exclusively. On success stdout holds the installation directory, and
// nothing else.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/config"
	"virtdev/lib/exitcode"
	"virtdev/lib/firmware"
	"virtdev/lib/guest"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
)

const (
	exitExists       = 10
	exitBadKey       = 11
	exitNoSubIDs     = 12
	exitMissingTool  = 13
	exitNoFirmware   = 14
	exitBadPackages  = 15
	exitBadScript    = 16
	exitBootstrap    = 17
	exitScriptFailed = 18
	exitAssemble     = 19
	exitScratch      = 20
	programName      = "virtdev-bootstrap"
	subuidFile       = "/etc/subuid"
	subgidFile       = "/etc/subgid"
)

type options struct {
	Suite  string `long:"suite" value-name:"SUITE" default:"bookworm" description:"Debian release to install"`
	Mirror string `long:"mirror" value-name:"URL" description:"mirror to install from, e.g. a local one (default: Debian's)"`
}

var opts options

var command = cli.Command{
	Name:    programName,
	Group:   cli.Setup,
	Summary: "Build a Debian base (installation/) from packages with mmdebstrap.",
	Description: `Writes $VIRTDEV_HOME/installation/{system.qcow2,home.qcow2,nvram}: a Debian
system installed straight from packages with mmdebstrap, no ISO and no
installer machine. Seal it with virtdev-seal before creating projects.

The system disk is GPT: an ESP (vfat) with systemd-boot as the removable-media
loader, an XBOOTLDR partition (vfat) with the kernel and initrd, and the ext4
root. The home disk is one ext4 filesystem labelled home, holding /home/dev.
The images are thin qcow2; nvram is a copy of the firmware's variable store.

The guest: user dev (uid 1000) with the virtdev public key, every password
locked, passwordless sudo, sshd accepting dev's public key only (serving the
ed25519 host key each machine is handed at boot; the base holds none), hostname from the fw_cfg
item opt/virtdev/project, /home mounted by label, systemd-networkd (DHCP) and
systemd-resolved, dbus and logind for the ACPI power button, autologin of dev
on the serial console, the time zone, locale and console keymap configured
below, and the developer toolset listed at the end.

Run it as an unprivileged user (the build maps the guest's users through your
subordinate ids in /etc/subuid and /etc/subgid) or as root. The guest is
installed under $TMPDIR (about 2 GB); the images are finished in a scratch
directory beside installation/ and moved into place at the end: a failure or
an interrupt leaves nothing behind, and what a build killed on the way left
is removed by the next one. Progress goes to stderr; on success stdout holds
the installation directory and nothing else.

--mirror takes what mmdebstrap takes: a URL such as http://localhost:3142/debian
or a whole sources.list line. The guest's apt sources then name that mirror
only; without --mirror they name deb.debian.org with the -updates and
-security suites.

Environment:
  VIRTDEV_SSH_KEY           the key whose .pub dev accepts (virtdev-key makes it)
  VIRTDEV_TIMEZONE          time zone (default: the host's, else UTC)
  VIRTDEV_LOCALE            locale (default: the host's, else en_US.UTF-8)
  VIRTDEV_KEYMAP            console keymap (default: the host's, else us)
  VIRTDEV_DNS               resolvers for the guest (default: 192.168.127.1,
                            the machine's own network, filtered by its zone)
  VIRTDEV_PACKAGES          file naming packages to add to the toolset,
                            separated by spaces or new lines; # starts a
                            comment
  VIRTDEV_SCRIPT            script run as root inside the new system, after
                            the packages are installed
  VIRTDEV_SYSTEM_DISK_SIZE  system disk size (default: 24G)
  VIRTDEV_HOME_DISK_SIZE    home disk size (default: 48G)
  OVMF_CODE, OVMF_VARS      firmware pair (default: discovered)`,
	Options: &opts,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "built"},
		{N: exitExists, Meaning: "installation/ already exists"},
		{N: exitBadKey, Meaning: "the public key is malformed"},
		{N: exitNoSubIDs, Meaning: "no subordinate ids for a rootless build"},
		{N: exitMissingTool, Meaning: "a host program is missing"},
		{N: exitNoFirmware, Meaning: "no UEFI firmware found"},
		{N: exitBadPackages, Meaning: "the VIRTDEV_PACKAGES file is unreadable or names something that is not a package"},
		{N: exitBadScript, Meaning: "the VIRTDEV_SCRIPT file is missing, not a regular file, or too large"},
		{N: exitBootstrap, Meaning: "mmdebstrap failed (downloading, installing or setting up the guest)"},
		{N: exitScriptFailed, Meaning: "VIRTDEV_SCRIPT failed inside the new system"},
		{N: exitAssemble, Meaning: "the disks could not be partitioned, formatted or converted"},
		{N: exitScratch, Meaning: "a scratch directory, the result, or what an interrupted build or seal left could not be written, removed or put back"},
		exitcode.Output, exitcode.Locked, exitcode.KeyMissing, exitcode.Config, exitcode.HomeUnusable,
	},
	Epilogue: guest.ToolsetTable,
	Run:      run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, _ []string) error {
	c, err := env.Config()
	if err != nil {
		return err
	}
	l := layout.New(c)
	settings, err := readSettings(c, l)
	if err != nil {
		return err
	}
	system, home, err := disks(c)
	if err != nil {
		return err
	}

	held, err := lock.Base(l, programName, lock.Exclusive)
	if err != nil {
		return err
	}
	defer held.Release()
	dest := l.Installation()
	tools, toolsErr := guest.FindTools()
	build := guest.Build{Dest: dest, Rootless: os.Geteuid() != 0, Tools: tools}
	if err := recoverLeftovers(env, l, build); err != nil {
		return err
	}
	if _, err := os.Lstat(dest.Dir); err == nil {
		return cli.Errorf(exitExists, "an installation already exists: %s\nSeal it (virtdev-seal) or remove it (rm -r %s) before building another.",
			dest.Dir, guest.Quote(dest.Dir))
	}
	if toolsErr != nil {
		return cli.Wrap(exitMissingTool, toolsErr, "cannot build a base")
	}
	if build.Rootless {
		if err := checkSubordinateIDs(); err != nil {
			return err
		}
	}
	fw, err := firmware.Discover(firmware.HostEnvironment(env.Getenv))
	if err != nil {
		return cli.Wrap(exitNoFirmware, err, "cannot build a base")
	}

	build.Settings = settings
	build.NVRAM = fw.Vars
	build.System, build.Home = system, home
	build.Stage, build.Log = env.Stagef, env.Stderr
	if err := build.Run(env.Ctx); err != nil {
		return buildError(env.Ctx, err)
	}
	env.Stagef("Built %s; seal it with: virtdev-seal", dest.Dir)
	fmt.Fprintln(env.Stdout, dest.Dir)
	return nil
}

// recoverLeftovers puts right what a build or a seal killed on the way
// left, and says what it did: the seal's files go back into installation/
// (or its base into system/), the build's scratch directories go.
func recoverLeftovers(env *cli.Env, l layout.Layout, build guest.Build) error {
	recovery, err := base.Recover(l)
	for _, done := range recovery.Done {
		env.Warnf("%s", done)
	}
	if err != nil {
		return cli.Wrap(exitScratch, err, "cannot put right what an interrupted virtdev-seal left")
	}
	removed, err := build.Recover()
	for _, path := range removed {
		env.Warnf("removed %s, left by an interrupted %s", path, programName)
	}
	if err != nil {
		return cli.Wrap(exitScratch, err, "cannot remove what an interrupted %s left", programName)
	}
	return nil
}

// readSettings gathers everything that shapes the guest and checks it
// before any work starts.
func readSettings(c *config.Config, l layout.Layout) (guest.Settings, error) {
	s := guest.Settings{
		Suite:    opts.Suite,
		Mirror:   opts.Mirror,
		Timezone: c.Timezone(),
		Locale:   c.Locale(),
		Keymap:   c.Keymap(),
		DNS:      c.DNS,
		Script:   c.Script,
	}
	if err := s.Check(); err != nil {
		var serr *guest.SettingError
		if errors.As(err, &serr) && strings.HasPrefix(serr.Variable, "--") {
			return s, cli.Usage("%s", err)
		}
		return s, cli.Errorf(exitcode.Config.N, "%s\nFix the value or unset the variable to use the default.", err)
	}
	data, err := os.ReadFile(l.SSHPublicKey())
	if errors.Is(err, os.ErrNotExist) {
		return s, cli.Errorf(exitcode.KeyMissing.N, "no virtdev public key at %s\nCreate the key pair with: virtdev-key", l.SSHPublicKey())
	}
	if err != nil {
		return s, cli.Wrap(exitBadKey, err, "cannot read the virtdev public key")
	}
	if s.PublicKey, err = guest.ParsePublicKey(data); err != nil {
		return s, cli.Wrap(exitBadKey, err, "%s is not a usable public key", l.SSHPublicKey())
	}
	if c.Packages != "" {
		data, err := os.ReadFile(c.Packages)
		if err != nil {
			return s, cli.Wrap(exitBadPackages, err, "cannot read the package list VIRTDEV_PACKAGES")
		}
		if s.Packages, err = guest.ParsePackages(bytes.NewReader(data)); err != nil {
			return s, cli.Wrap(exitBadPackages, err, "VIRTDEV_PACKAGES=%s", c.Packages)
		}
	}
	if c.Script != "" {
		info, err := os.Stat(c.Script)
		if err != nil {
			return s, cli.Wrap(exitBadScript, err, "cannot use VIRTDEV_SCRIPT")
		}
		if !info.Mode().IsRegular() {
			return s, cli.Errorf(exitBadScript, "VIRTDEV_SCRIPT=%s is not a regular file", c.Script)
		}
		if info.Size() > guest.MaxScript {
			return s, cli.Errorf(exitBadScript, "VIRTDEV_SCRIPT=%s is larger than %d KiB; let it fetch or copy what it needs instead", c.Script, guest.MaxScript>>10)
		}
	}
	return s, nil
}

// disks lays the two disks out, refusing sizes too small for their
// partitions.
func disks(c *config.Config) (system, home guest.Disk, err error) {
	if system, err = guest.SystemDisk(int64(c.SystemDiskSize)); err != nil {
		return system, home, diskError("VIRTDEV_SYSTEM_DISK_SIZE", c.SystemDiskSize, err)
	}
	if home, err = guest.HomeDisk(int64(c.HomeDiskSize)); err != nil {
		return system, home, diskError("VIRTDEV_HOME_DISK_SIZE", c.HomeDiskSize, err)
	}
	return system, home, nil
}

func diskError(variable string, size config.Size, err error) error {
	return cli.Errorf(exitcode.Config.N, "%s=%s: %s\nSet a larger size or unset it to use the default.", variable, size, err)
}

func checkSubordinateIDs() error {
	uid := os.Getuid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	if err := guest.CheckSubordinateIDs(name, uid, subuidFile, subgidFile); err != nil {
		return cli.Errorf(exitNoSubIDs, "cannot build rootless: %s", err)
	}
	return nil
}

func buildError(ctx context.Context, err error) error {
	outcome := "Nothing was left behind"
	var left *guest.LeftoverError
	if errors.As(err, &left) {
		outcome = left.Error()
	}
	if ctx.Err() != nil {
		return cli.Errorf(exitcode.Interrupted.N, "interrupted\n%s.", outcome)
	}
	code := exitAssemble
	var step *guest.StepError
	switch {
	case errors.As(err, &step):
		switch step.Step {
		case guest.StepBootstrap:
			code = exitBootstrap
		case guest.StepScript:
			code = exitScriptFailed
		case guest.StepScratch, guest.StepInstall:
			code = exitScratch
		case guest.StepSettings:
			code = exitcode.Config.N
		}
	case left != nil:
		code = exitScratch
	}
	return cli.Errorf(code, "%s\n%s; fix the cause and run %s again.", err, outcome, programName)
}
