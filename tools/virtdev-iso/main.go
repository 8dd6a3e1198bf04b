// Command virtdev-iso builds the installation ISO of the Arch Linux base.
//
//	virtdev-iso [OPTIONS]
//
// It renders the archiso profile embedded in virtdev (or the one
// VIRTDEV_ISO_PROFILE names) with the public key and the VIRTDEV_*
// settings injected, runs mkarchiso (through sudo for an unprivileged
// user) with its work directory in VIRTDEV_CACHE, and moves the image to
// VIRTDEV_ISO, which it replaces in one step. virtdev-install boots it.
// stdout: the ISO's path. It needs an Arch Linux host, where archiso is.
package main

import (
	"errors"
	"fmt"
	"os"

	"virtdev/lib/archiso"
	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/guest"
)

const (
	exitNoArchiso = 10
	exitNoSudo    = 11
	exitProfile   = 12
	exitBadKey    = 13
	exitPackages  = 14
	exitScript    = 15
	exitWorkDir   = 16
	exitMkarchiso = 17
	exitOutput    = 18
)

var command = cli.Command{
	Name:    "virtdev-iso",
	Group:   cli.Setup,
	Summary: "Build the Arch Linux installation ISO with mkarchiso.",
	Description: `Renders virtdev's own archiso profile, embedded in the program (or the
profile directory VIRTDEV_ISO_PROFILE names), into $VIRTDEV_CACHE/profile,
with these injected under /root/virtdev in the live system:
  the public key of $VIRTDEV_SSH_KEY   dev's only way in
  VIRTDEV_TIMEZONE, VIRTDEV_LOCALE,    the installed system's settings
  VIRTDEV_KEYMAP, VIRTDEV_DNS          (defaults: the host's, else UTC,
                                       en_US.UTF-8, us; 9.9.9.9)
  VIRTDEV_PACKAGES                     a file naming Arch packages to add
  VIRTDEV_SCRIPT                       a script run as root in the new system
then runs mkarchiso, through sudo unless run as root, with its work
directory $VIRTDEV_CACHE/work, and moves the image to $VIRTDEV_ISO (default
$VIRTDEV_CACHE/virtdev.iso), replacing the old one in one step. On success
stdout holds the ISO's path. Boot it with virtdev-install.

The ISO boots a live system that installs the base unattended on the
installer machine's two empty disks, with the same guest contract as the
Debian base of virtdev-bootstrap, and powers off.

It needs archiso, which runs on an Arch Linux host; elsewhere, build a
Debian base with virtdev-bootstrap. A build that did not finish leaves
mkarchiso's work directory (its files belong to root) for inspection; the
next build refuses until it is removed.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "built; the ISO's path is on stdout"},
		{N: exitNoArchiso, Meaning: "mkarchiso is missing (archiso runs on Arch Linux)"},
		{N: exitNoSudo, Meaning: "sudo, which runs mkarchiso as root for an unprivileged user, is missing"},
		{N: exitProfile, Meaning: "VIRTDEV_ISO_PROFILE is not an archiso profile (no profiledef.sh), or the profile cannot be rendered"},
		{N: exitBadKey, Meaning: "the public key cannot be read or is not one key"},
		{N: exitPackages, Meaning: "the VIRTDEV_PACKAGES file is unreadable or names something that is not an Arch package"},
		{N: exitScript, Meaning: "the VIRTDEV_SCRIPT file is missing or not a regular file"},
		{N: exitWorkDir, Meaning: "mkarchiso's work directory is left from a build that did not finish"},
		{N: exitMkarchiso, Meaning: "mkarchiso failed"},
		{N: exitOutput, Meaning: "mkarchiso succeeded but did not leave exactly one ISO"},
		exitcode.Output, exitcode.KeyMissing, exitcode.Config,
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
	if cfg.ISOProfile != "" {
		if err := archiso.CheckProfile(cfg.ISOProfile); err != nil {
			return explain(err)
		}
	}
	settings, err := archiso.ReadSettings(cfg, l.SSHPublicKey())
	if err != nil {
		return explain(err)
	}
	tools, err := archiso.FindTools(os.Geteuid())
	if err != nil {
		return explain(err)
	}
	build := archiso.Build{
		Settings: settings,
		Override: cfg.ISOProfile,
		Profile:  l.ISOProfile(),
		Work:     l.ISOWork(),
		ISO:      cfg.ISO,
		Tools:    tools,
		Stage:    env.Stagef,
		Log:      env.Stderr,
	}
	if err := build.Run(env.Ctx); err != nil {
		if env.Ctx.Err() != nil {
			return cli.Errorf(exitcode.Interrupted.N, "interrupted: %v", err)
		}
		return explain(err)
	}
	env.Infof("Install the base from it: virtdev-install, then virtdev-seal")
	fmt.Fprintln(env.Stdout, cfg.ISO)
	return nil
}

// explain gives the library's failures their exit codes.
func explain(err error) error {
	var (
		missingKey *archiso.KeyMissingError
		badKey     *archiso.KeyError
		input      *archiso.InputError
		setting    *guest.SettingError
		tool       *archiso.MissingToolError
		profile    *archiso.ProfileError
		work       *archiso.WorkDirError
		mkarchiso  *archiso.MkarchisoError
		output     *archiso.OutputError
	)
	switch {
	case errors.As(err, &missingKey):
		return exitcode.New(exitcode.KeyMissing, "%v", err)
	case errors.As(err, &badKey):
		return cli.Errorf(exitBadKey, "%v\nMake the key pair again with virtdev-key, or point VIRTDEV_SSH_KEY at yours.", err)
	case errors.As(err, &input) && input.What == "VIRTDEV_PACKAGES":
		return cli.Errorf(exitPackages, "%v", err)
	case errors.As(err, &input) && input.What == "VIRTDEV_SCRIPT":
		return cli.Errorf(exitScript, "%v", err)
	case errors.As(err, &input):
		return cli.Errorf(exitBadKey, "%v", err)
	case errors.As(err, &setting) && setting.Variable == "VIRTDEV_PACKAGES":
		return cli.Errorf(exitPackages, "%v", err)
	case errors.As(err, &setting):
		return exitcode.New(exitcode.Config, "%v\nFix the value or unset the variable to use the default.", err)
	case errors.As(err, &tool) && tool.Name == "mkarchiso":
		return cli.Errorf(exitNoArchiso, "%v", err)
	case errors.As(err, &tool):
		return cli.Errorf(exitNoSudo, "%v", err)
	case errors.As(err, &profile):
		return cli.Errorf(exitProfile, "%v", err)
	case errors.As(err, &work):
		return cli.Errorf(exitWorkDir, "%v", err)
	case errors.As(err, &mkarchiso):
		return cli.Errorf(exitMkarchiso, "%v", err)
	case errors.As(err, &output):
		return cli.Errorf(exitOutput, "%v", err)
	}
	return err
}
