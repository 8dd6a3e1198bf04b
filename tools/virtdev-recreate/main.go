// Command virtdev-recreate rebuilds a project's machine on the current
// sealed base without losing what its backup manifest lists.
//
//	virtdev-recreate [OPTIONS] <project>
//
// backup, stop, destroy, create, start, wait, provision, restore: after one
// confirmation (type the name), each step in turn, all under the base's
// lock (shared) and the project's, so that nothing changes the base or the
// project between two steps. The first step that fails stops the chain with
// its own exit code and the commands that resume from it; the snapshot of
// the first step is kept whatever happens.
package main

import (
	"errors"
	"fmt"
	"io/fs"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/lifecycle"
	"virtdev/lib/prompt"
	"virtdev/lib/rebuild"
	"virtdev/lib/term"
)

const (
	exitNeedsConfirmation = 10
	exitDeclined          = 11
	exitManifest          = 12
	exitProvisionScript   = 13
	exitNoTool            = 14
	exitSnapshot          = 15

	exitBackup    = 20
	exitStop      = 21
	exitDestroy   = 22
	exitCreate    = 23
	exitStart     = 24
	exitWait      = 25
	exitProvision = 26
	exitRestore   = 27
)

// stepCodes are the codes of a chain stopped by each step.
var stepCodes = map[rebuild.Step]int{
	rebuild.Backup: exitBackup, rebuild.Stop: exitStop, rebuild.Destroy: exitDestroy, rebuild.Create: exitCreate,
	rebuild.Start: exitStart, rebuild.Wait: exitWait, rebuild.Provision: exitProvision, rebuild.Restore: exitRestore,
}

const programName = "virtdev-recreate"

type options struct {
	NoBackup    bool   `long:"no-backup" description:"take no snapshot first; restore the newest existing one, if any"`
	NoRestore   bool   `long:"no-restore" description:"restore nothing into the new machine"`
	NoProvision bool   `long:"no-provision" description:"run no provision script"`
	Provision   string `short:"p" long:"provision" value-name:"PATH" description:"run this provision script instead of the project's own"`
	Yes         bool   `short:"y" long:"yes" description:"recreate without asking (needed when standard input is not a terminal)"`
	Verbose     bool   `short:"v" long:"verbose" description:"show rsync's progress even when standard error is not a terminal"`
}

var opts options

var command = cli.Command{
	Name:    programName,
	Group:   cli.Lifecycle,
	Summary: "Rebuild a project's machine on the current base, keeping what its manifest lists.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgProject}},
	Options: &opts,
	Description: `Runs, in order:
  1. backup     virtdev-backup: a snapshot of the paths the manifest lists
  2. stop       virtdev-stop, if the machine runs
  3. destroy    the machine's disks (backups and configuration stay)
  4. create     a new machine on the current sealed base
  5. start
  6. wait       until SSH lets dev in
  7. provision  the provision script, fed to bash -s in the guest as dev
  8. restore    virtdev-restore of the snapshot of step 1
The provision script is ~/.config/virtdev/projects/<project>/provision when it
exists, or the one --provision names. --no-backup takes no snapshot (the
machine need not run) and restores the newest existing snapshot, if any.

Everything is checked before anything is done: the machine runs (for the
backup), the manifest is sound, the provision script readable, the sealed
base whole, the key usable, rsync and ssh installed. Then the plan is shown
and confirmed once, by typing the project's name; without a terminal nothing
is asked and nothing is done, unless --yes is given.

The whole chain holds the base's lock shared and the project's: the base
cannot be resealed, nor the project started, stopped, backed up or restored
by another program, between two steps. A step that fails stops the chain
with its own exit code; the message says what state the project is in and
prints the commands that resume from that step. The snapshot of step 1 is
kept whatever fails. A machine that does not power off cleanly at step 2 is
stopped all the same, with a warning: its disks are replaced next.

A detached project is attached to the current base again.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "recreated"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.StalePort,
		{N: exitNeedsConfirmation, Meaning: "confirmation needed: standard input is not a terminal and --yes was not given"},
		{N: exitDeclined, Meaning: "not confirmed: the name typed was not the project's"},
		{N: exitManifest, Meaning: "no backup manifest, or one that cannot be used"},
		{N: exitProvisionScript, Meaning: "the provision script cannot be read"},
		{N: exitNoTool, Meaning: "rsync or ssh is not installed on the host"},
		{N: exitSnapshot, Meaning: "with --no-backup: the newest snapshot cannot be restored"},
		{N: exitBackup, Meaning: "the backup failed; nothing was changed"},
		{N: exitStop, Meaning: "the machine could not be stopped"},
		{N: exitDestroy, Meaning: "the old machine could not be removed"},
		{N: exitCreate, Meaning: "the new machine could not be made"},
		{N: exitStart, Meaning: "the new machine could not be started"},
		{N: exitWait, Meaning: "SSH did not let dev in to the new machine"},
		{N: exitProvision, Meaning: "the provision script failed"},
		{N: exitRestore, Meaning: "the snapshot could not be (wholly) restored"},
		exitcode.Locked, exitcode.KeyMissing, exitcode.KeyPermissions, exitcode.Config, exitcode.NoUserManager,
		exitcode.Unusable, exitcode.NoBase, exitcode.BaseDamaged, exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	name := args[0]
	if opts.NoProvision && opts.Provision != "" {
		return cli.Usage("--no-provision and --provision exclude each other")
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	session, err := lifecycle.Begin(env.Ctx, l, programName, lifecycle.Want{Project: name, Base: true}, env.Infof)
	if err != nil {
		return err
	}
	defer session.Close()

	plan, err := rebuild.Prepare(env.Ctx, l, session.Units, name, rebuild.Options{
		NoBackup: opts.NoBackup, NoRestore: opts.NoRestore, NoProvision: opts.NoProvision, Provision: opts.Provision,
	})
	if err != nil {
		return refusal(err)
	}
	env.Infof("%s", plan.Describe())
	if !opts.Yes {
		ok, err := env.Prompt.Word("Recreate project "+name+"?", name)
		switch {
		case errors.Is(err, prompt.ErrNotInteractive):
			return cli.Errorf(exitNeedsConfirmation, "nothing done: confirmation is needed, and standard input is not a terminal\nTo recreate %s without a question: virtdev-recreate --yes %s", name, name)
		case err != nil || !ok:
			return cli.Errorf(exitDeclined, "nothing done: the name typed was not %q", name)
		}
	}
	result, err := rebuild.Run(env.Ctx, rebuild.Env{
		Layout: l, Config: cfg, Getenv: env.Getenv, Program: programName, Stderr: env.Stderr, Verbose: opts.Verbose,
		Stagef: env.Stagef, Infof: env.Infof, Warnf: env.Warnf,
	}, session.Units, plan)
	var failed *rebuild.StepError
	switch {
	case errors.As(err, &failed) && env.Ctx.Err() != nil:
		return cli.Errorf(exitcode.Interrupted.N, "interrupted: %v", err)
	case errors.As(err, &failed):
		return cli.Errorf(stepCodes[failed.Step], "%v", err)
	case err != nil:
		return err
	}
	done := fmt.Sprintf("Project %s recreated", name)
	if result.Snapshot != "" && plan.Runs(rebuild.Restore) {
		done += ", snapshot " + result.Snapshot + " restored"
	}
	env.Infof("%s", env.Palette.Paint(done, term.Green, false))
	return nil
}

// refusal gives what Prepare refused its code.
func refusal(err error) error {
	var (
		manifest  *rebuild.ManifestError
		provision *rebuild.ProvisionError
		tool      *rebuild.ToolError
		snapshot  *rebuild.SnapshotError
	)
	switch {
	case errors.As(err, &manifest):
		return cli.Errorf(exitManifest, "%v", err)
	case errors.As(err, &provision):
		fix := "Fix it, or recreate without it: --no-provision"
		if errors.Is(err, fs.ErrNotExist) {
			fix = "Name a script that exists, or recreate without one: --no-provision"
		}
		return cli.Errorf(exitProvisionScript, "%v\n%s", err, fix)
	case errors.As(err, &tool):
		return cli.Errorf(exitNoTool, "%v", err)
	case errors.As(err, &snapshot):
		return cli.Errorf(exitSnapshot, "%v\nRecreate with --no-restore, then restore another snapshot by hand (virtdev-backup --list %s).", err, snapshot.Project)
	}
	return err
}
