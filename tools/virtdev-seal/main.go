// Command virtdev-seal turns a freshly built installation into the sealed,
// read-only base that projects derive from.
//
//	virtdev-seal [OPTIONS]
//
// $VIRTDEV_HOME/installation/ (from virtdev-bootstrap or virtdev-install)
// becomes $VIRTDEV_HOME/system/: its files mode 444 and a generation counter
// above any a project still records. stdout: the sealed directory.
//
// Exit codes: 0 sealed; 3 no installation; 4 a base is already sealed;
// 5 an installation file is missing; 6 the system image fails its check;
// 7 the home image fails its check; 8 sealing failed (the installation is
// left as it was); 9 files other than the base remain in installation/;
// 64 usage; 75 lock held; 81 bad configuration.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/image"
	"virtdev/lib/lock"
	"virtdev/lib/term"
)

const (
	exitNoInstallation = 3
	exitAlreadySealed  = 4
	exitMissingFile    = 5
	exitSystemCheck    = 6
	exitHomeCheck      = 7
	exitSealFailed     = 8
	exitLeftovers      = 9
)

var command = cli.Command{
	Name:    "virtdev-seal",
	Summary: "Seal the installation as the read-only base.",
	Description: `Moves installation/ (built by virtdev-bootstrap or virtdev-install) to
system/ in one step, marks its files read-only (mode 444) and writes its
generation. Projects are then derived from it with virtdev-create.

Exit codes: 0 sealed; 3 no installation; 4 a base is already sealed;
5 an installation file is missing; 6 the system image fails its check;
7 the home image fails its check; 8 sealing failed (the installation is
left as it was); 9 other files remain in installation/ (the base is sealed);
64 usage; 75 another virtdev program holds the lock;
81 malformed environment variable.`,
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	if err := cli.Positionals(args, 0, 0); err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	held, err := lock.Acquire(l, env.Name)
	if err != nil {
		return err
	}
	defer held.Release()

	inst, sys := l.Installation(), l.System()
	if _, err := os.Stat(sys.Dir); err == nil {
		return cli.Errorf(exitAlreadySealed, "a base is already sealed at %s\nTo replace it, update it with virtdev-maintain; or remove it by hand (projects derived from it stop booting): rm -rf %s", sys.Dir, sys.Dir)
	}
	if _, err := os.Stat(inst.Dir); err != nil {
		return cli.Errorf(exitNoInstallation, "no installation to seal: %s does not exist\nBuild one first: virtdev-bootstrap (Debian) or virtdev-iso && virtdev-install (Arch)", inst.Dir)
	}
	if missing, ok := base.MissingFile(inst); ok {
		return cli.Errorf(exitMissingFile, "the installation is incomplete: %s is missing\nRebuild it: rm -rf %s && virtdev-bootstrap", missing, inst.Dir)
	}

	env.Stagef("Checking image integrity")
	if err := image.Check(env.Ctx, inst.SystemImage); err != nil {
		return cli.Errorf(exitSystemCheck, "the system image fails its check: %v\nRebuild the installation: rm -rf %s && virtdev-bootstrap", err, inst.Dir)
	}
	if err := image.Check(env.Ctx, inst.HomeImage); err != nil {
		return cli.Errorf(exitHomeCheck, "the home image fails its check: %v\nRebuild the installation: rm -rf %s && virtdev-bootstrap", err, inst.Dir)
	}

	g, err := base.NextGeneration(l)
	if err != nil {
		return cli.Wrap(exitSealFailed, err, "cannot read the projects' generations in %s", l.Projects())
	}
	env.Stagef("Sealing %s as generation %s", sys.Dir, g)
	if err := base.Seal(l, g); err != nil {
		return cli.Wrap(exitSealFailed, err, "sealing failed; the installation in %s is as it was", inst.Dir)
	}
	if err := base.WarmDeltas(env.Ctx, l); err != nil {
		env.Warnf("could not prepare the empty disk deltas in %s (each virtdev-create will make its own): %v", l.DeltaTemplates(), err)
	}
	if err := os.Remove(inst.Dir); err != nil {
		return leftovers(inst.Dir, sys.Dir)
	}
	env.Infof("%s", env.Palette.Paint("Base sealed: "+sys.Dir, term.Green, false))
	env.Infof("Derive a project from it: virtdev-create <project>")
	fmt.Fprintln(env.Stdout, sys.Dir)
	return nil
}

// leftovers reports files sealing did not own: they may be the user's, so
// they are listed, not deleted.
func leftovers(instDir, sysDir string) error {
	entries, _ := os.ReadDir(instDir)
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Join(instDir, e.Name()))
	}
	return cli.Errorf(exitLeftovers, "the base is sealed at %s, but %s still holds files that are not part of a base:\n    %s\nLook at them, then remove the directory: rm -rf %s",
		sysDir, instDir, strings.Join(names, "\n    "), instDir)
}
