// Command virtdev-seal turns a freshly built installation into the sealed,
// read-only base that projects derive from.
//
//	virtdev-seal [OPTIONS]
//
// $VIRTDEV_HOME/installation/ (from virtdev-bootstrap or virtdev-install)
// becomes $VIRTDEV_HOME/system/: its files mode 444 and a generation counter
// above any a project still records. stdout: the sealed directory.
//
// It holds the base lock exclusively, and first puts right what a seal
// killed on the way left: the base it was about to put in place is put
// there, or the installation's files go back with their modes.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"virtdev/lib/base"
	"virtdev/lib/cli"
	"virtdev/lib/delta"
	"virtdev/lib/exitcode"
	"virtdev/lib/image"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/term"
)

const (
	exitNoInstallation = 10
	exitAlreadySealed  = 11
	exitMissingFile    = 12
	exitSystemCheck    = 13
	exitHomeCheck      = 14
	exitSealFailed     = 15
	exitLeftovers      = 16
	exitNumbering      = 17
	exitNoQemuImg      = 18
	exitRecovery       = 19
)

var command = cli.Command{
	Name:    "virtdev-seal",
	Group:   cli.Setup,
	Summary: "Seal the installation as the read-only base.",
	Description: `Moves installation/ (built by virtdev-bootstrap or virtdev-install) to
system/ in one step, marks its files read-only (mode 444) and writes its
generation, above every generation a project records. Projects are then
derived from it with virtdev-create.

Both images are checked with qemu-img check first; nothing changes unless
both pass. A seal interrupted before the base is in place leaves the
installation as it was; one killed on the way (SIGKILL, a crash) is put
right by the next virtdev-seal, which says what it did.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "sealed"},
		{N: exitNoInstallation, Meaning: "no installation to seal"},
		{N: exitAlreadySealed, Meaning: "a base is already sealed"},
		{N: exitMissingFile, Meaning: "an installation file is missing"},
		{N: exitSystemCheck, Meaning: "the system image fails its check"},
		{N: exitHomeCheck, Meaning: "the home image fails its check"},
		{N: exitSealFailed, Meaning: "sealing failed (the installation is left as it was)"},
		{N: exitLeftovers, Meaning: "other files remain in installation/ (the base is sealed)"},
		{N: exitNumbering, Meaning: "no generation can be chosen: a project's generation file is damaged, or records the last one"},
		{N: exitNoQemuImg, Meaning: "qemu-img cannot be run"},
		{N: exitRecovery, Meaning: "what an interrupted seal left cannot be put back (the message says where its files are)"},
		exitcode.Output, exitcode.Locked, exitcode.Config, exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, _ []string) error {
	l, err := env.Layout()
	if err != nil {
		return err
	}
	held, err := lock.Base(l, env.Name, lock.Exclusive)
	if err != nil {
		return err
	}
	defer held.Release()

	recovery, err := base.Recover(l)
	for _, done := range recovery.Done {
		env.Warnf("%s", done)
	}
	if err != nil {
		return cli.Wrap(exitRecovery, err, "cannot put right what an interrupted virtdev-seal left")
	}
	if recovery.Finished {
		return finish(env, l)
	}

	inst, sys := l.Installation(), l.System()
	if _, err := os.Lstat(sys.Dir); err == nil {
		return cli.Errorf(exitAlreadySealed, "a base is already sealed at %s\nTo change it, update it with virtdev-maintain; to replace it, remove it by hand (projects derived from it then need virtdev-recreate): rm -rf %s", sys.Dir, sys.Dir)
	}
	if _, err := os.Lstat(inst.Dir); err != nil {
		return cli.Errorf(exitNoInstallation, "no installation to seal: %s does not exist\nBuild one first: virtdev-bootstrap (Debian) or virtdev-iso && virtdev-install (Arch)", inst.Dir)
	}
	if missing, ok := base.MissingFile(inst); ok {
		return cli.Errorf(exitMissingFile, "the installation is incomplete: %s is missing\nRebuild it: rm -rf %s && virtdev-bootstrap", missing, inst.Dir)
	}

	env.Stagef("Checking image integrity")
	if err := check(env, exitSystemCheck, "system", inst.SystemImage, inst.Dir); err != nil {
		return err
	}
	if err := check(env, exitHomeCheck, "home", inst.HomeImage, inst.Dir); err != nil {
		return err
	}
	// The numbering comes after the slow checks, which an interrupt may
	// end, and before anything changes.
	g, err := base.NextGeneration(l)
	var numbering *base.NumberingError
	switch {
	case errors.As(err, &numbering):
		return cli.Errorf(exitNumbering, "%v\nThe new base must be numbered above every project's generation. Restore %s (it holds the generation the project was derived from), or remove the project: virtdev-destroy %s",
			err, numbering.Path, numbering.Project)
	case err != nil:
		return err
	}
	if err := env.Ctx.Err(); err != nil {
		return interrupted("before sealing; nothing was changed.\nRun virtdev-seal again to seal.")
	}
	env.Stagef("Sealing %s as generation %s", sys.Dir, g)
	if err := base.Seal(l, g); err != nil {
		return cli.Wrap(exitSealFailed, err, "sealing failed; the installation in %s is as it was", inst.Dir)
	}
	return finish(env, l)
}

// finish does what is left once system/ is the sealed base: the deltas
// every create copies, and the empty installation/.
func finish(env *cli.Env, l layout.Layout) error {
	inst, sys := l.Installation(), l.System()
	leftovers, err := delta.Warm(env.Ctx, l)
	for _, dir := range leftovers {
		env.Warnf("removed %s, left by an interrupted virtdev-seal", dir)
	}
	interruptedNow := env.Ctx.Err() != nil
	if err != nil && !interruptedNow {
		env.Warnf("could not prepare the empty disk deltas in %s (each virtdev-create will make its own): %v", l.DeltaTemplates(), err)
	}
	if err := os.Remove(inst.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return leftoverFiles(inst.Dir, sys.Dir)
	}
	if interruptedNow {
		return interrupted(fmt.Sprintf("after sealing: the base is sealed at %s.\nThe empty deltas were not prepared; each virtdev-create will make its own.", sys.Dir))
	}
	env.Infof("%s", env.Palette.Paint("Base sealed: "+sys.Dir, term.Green, false))
	env.Infof("Derive a project from it: virtdev-create <project>")
	fmt.Fprintln(env.Stdout, sys.Dir)
	return nil
}

// check runs qemu-img check on one image. Only a check that ran and failed
// is the image's fault and earns the advice to rebuild; an interrupt or a
// qemu-img that cannot run says nothing about the image.
func check(env *cli.Env, code int, which, path, instDir string) error {
	err := image.Check(env.Ctx, path)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case env.Ctx.Err() != nil:
		return interrupted("while checking the images; nothing was changed.\nRun virtdev-seal again to seal.")
	case !errors.As(err, &exit):
		return cli.Wrap(exitNoQemuImg, err, "cannot check the %s image %s", which, path)
	}
	return cli.Errorf(code, "the %s image fails its check: %v\nRebuild the installation: rm -rf %s && virtdev-bootstrap", which, err, instDir)
}

func interrupted(what string) error {
	return cli.Errorf(exitcode.Interrupted.N, "interrupted %s", what)
}

// leftoverFiles reports files sealing did not own: they may be the user's,
// so they are listed, not deleted.
func leftoverFiles(instDir, sysDir string) error {
	entries, _ := os.ReadDir(instDir)
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Join(instDir, e.Name()))
	}
	return cli.Errorf(exitLeftovers, "the base is sealed at %s, but %s still holds files that are not part of a base:\n    %s\nLook at them, then remove the directory: rm -rf %s",
		sysDir, instDir, strings.Join(names, "\n    "), instDir)
}
