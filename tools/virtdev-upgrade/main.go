// Command virtdev-upgrade moves every project to a new base: it backs each
// up, maintains the base (a lib/maintain session, as virtdev-maintain runs
// it), and recreates each on the new base from its snapshot.
//
//	virtdev-upgrade [OPTIONS]
//
// Everything is checked, and the plan confirmed once, before anything is
// done; the base lock is held exclusively from then to the end. The reseal
// is the point of no return: a failure before it leaves the base and the
// projects as they were; after it, each project is rebuilt in turn, and
// one that fails does not stop the others. stdout: a summary table, one
// project a line.
package main

import (
	"errors"
	"fmt"
	"strings"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/lock"
	"virtdev/lib/prompt"
	"virtdev/lib/rebuild"
	"virtdev/lib/term"
)

const (
	exitNoProjects        = 10
	exitAudit             = 11
	exitOutdated          = 12
	exitBusy              = 13
	exitNothing           = 14
	exitNeedsConfirmation = 15
	exitDeclined          = 16
	exitBackup            = 17
	exitNotResealed       = 18
	exitRebuild           = 19
	exitNoTool            = 20
	exitMaintenance       = 21
)

const programName = "virtdev-upgrade"

type options struct {
	Only         string `long:"only" value-name:"PROJECTS" description:"upgrade only these projects (comma-separated)"`
	Except       string `long:"except" value-name:"PROJECTS" description:"upgrade every project but these (comma-separated)"`
	SkipOutdated bool   `long:"skip-outdated" description:"leave out the projects that are stopped and already derived from another base"`
	Yes          bool   `short:"y" long:"yes" description:"upgrade without asking; handed on to virtdev-maintain"`
	Verbose      bool   `short:"v" long:"verbose" description:"show rsync's progress even when standard error is not a terminal"`
}

var opts options

var command = cli.Command{
	Name:    programName,
	Group:   cli.Lifecycle,
	Summary: "Back up every project, maintain the base, and rebuild every project on it.",
	Options: &opts,
	Description: `Three phases, after one confirmation (type "upgrade"):
  1. backup     each project is backed up (a stopped one is started for it)
                and its machine stopped
  2. maintain   the base's maintenance machine boots, as virtdev-maintain
                boots it; you work in it (virtdev-ssh maintenance), power it
                off, and confirm the reseal (--yes confirms it too)
  3. rebuild    each project is recreated on the new base (virtdev-recreate)
                from its snapshot of phase 1, provision script included;
                its machine is left running

Projects: all, those --only names, or all but those --except names. Detached
projects do not use the base and are left out, with a note. A project that
is stopped and already derived from another base cannot start to be backed
up: the upgrade refuses it, unless --skip-outdated leaves it out.

Everything is checked before anything is done: the names, every project's
manifest, that no machine runs outside the upgrade (none may run while the
base is maintained), what the maintenance needs (see virtdev-maintain: its
hooks, the next generation, the key), and that rsync, ssh, QEMU and its
firmware are there. The upgrade holds the base lock exclusively from then to
its end: nothing else starts a machine on the base, or changes it,
meanwhile.

The reseal is the commit point. A failure in phase 1 stops the upgrade with
the base unchanged (the machines it stopped are named); so does a
maintenance that does not reseal the base. In phase 3, a project that fails
does not stop the others. At the end, a table on stdout: PROJECT, RESULT
(upgraded, failed at a step, or left and why) and SNAPSHOT; stderr says how
to finish each project that failed.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "every project was upgraded"},
		exitcode.InvalidName, exitcode.NotFound,
		{N: exitNoProjects, Meaning: "there are no projects"},
		{N: exitAudit, Meaning: "a project has no backup manifest, or one that cannot be used"},
		{N: exitOutdated, Meaning: "a project is stopped and derived from another base (see --skip-outdated)"},
		{N: exitBusy, Meaning: "a machine runs that is not being upgraded"},
		{N: exitNothing, Meaning: "no project is left to upgrade"},
		{N: exitNeedsConfirmation, Meaning: "confirmation needed: standard input is not a terminal and --yes was not given"},
		{N: exitDeclined, Meaning: "not confirmed: the word typed was not upgrade"},
		{N: exitBackup, Meaning: "a backup failed; the base is unchanged"},
		{N: exitNotResealed, Meaning: "the maintenance did not reseal the base; the projects are stopped, unchanged"},
		{N: exitRebuild, Meaning: "some projects could not be rebuilt (the table says which)"},
		{N: exitNoTool, Meaning: "a program it needs is missing: rsync, ssh, QEMU, its UEFI firmware, virtdev-supervise"},
		{N: exitMaintenance, Meaning: "the maintenance cannot begin: a hook, the next generation, or what an interrupted reseal left (see virtdev-maintain)"},
		exitcode.Output, exitcode.Locked, exitcode.KeyMissing, exitcode.KeyPermissions, exitcode.Config,
		exitcode.NoUserManager, exitcode.Unusable, exitcode.NoBase, exitcode.BaseDamaged, exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, _ []string) error {
	if opts.Only != "" && opts.Except != "" {
		return cli.Usage("--only and --except exclude each other")
	}
	cfg, err := env.Config()
	if err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	// Held to the end: nothing but this upgrade starts a machine on the
	// base, or changes it, meanwhile.
	held, err := lock.Base(l, programName, lock.Exclusive)
	if err != nil {
		return err
	}
	defer held.Release()
	e := rebuild.Env{
		Layout: l, Config: cfg, Getenv: env.Getenv, Program: programName, Stderr: env.Stderr, Verbose: opts.Verbose,
		Stagef: env.Stagef, Infof: env.Infof, Warnf: env.Warnf,
	}
	u, err := e.PlanUpgrade(env.Ctx, rebuild.Selection{
		Only: list(opts.Only), Except: list(opts.Except), SkipOutdated: opts.SkipOutdated,
		Yes: opts.Yes, Prompt: env.Prompt,
	})
	if err != nil {
		return refusal(err)
	}
	env.Infof("%s", u.Describe())
	if !opts.Yes {
		ok, err := env.Prompt.Word("Upgrade?", "upgrade")
		switch {
		case errors.Is(err, prompt.ErrNotInteractive):
			return cli.Errorf(exitNeedsConfirmation, "nothing done: confirmation is needed, and standard input is not a terminal\nTo upgrade without a question (the reseal included): virtdev-upgrade --yes")
		case err != nil || !ok:
			return cli.Errorf(exitDeclined, "nothing done: the word typed was not \"upgrade\"")
		}
	}
	env.Stagef("Phase 1 of 3: backups")
	ids, err := e.BackupAll(env.Ctx, u)
	if err != nil {
		return interrupted(env, cli.Errorf(exitBackup, "%v", err))
	}
	env.Stagef("Phase 2 of 3: maintenance of the base")
	g, err := e.Maintain(env.Ctx, u)
	var notResealed *rebuild.MaintenanceError
	switch {
	case errors.As(err, &notResealed):
		return interrupted(env, cli.Errorf(exitNotResealed, "%v", err))
	case err != nil:
		return err
	}
	env.Stagef("Phase 3 of 3: rebuilds on base generation %s", g)
	outcomes := e.RebuildAll(env.Ctx, u, ids)
	return summary(env, u, outcomes)
}

// summary prints the table, says how to finish what failed, and gives the
// upgrade its status.
func summary(env *cli.Env, u rebuild.Upgrade, outcomes []rebuild.Outcome) error {
	s := rebuild.Summarize(u, outcomes)
	fmt.Fprint(env.Stdout, s.Table)
	if len(s.Failed) == 0 {
		env.Infof("%s", env.Palette.Paint(fmt.Sprintf("Upgraded %d project(s)", len(outcomes)), term.Green, false))
		return nil
	}
	return interrupted(env, cli.Errorf(exitRebuild, "%s", s.Finish()))
}

// interrupted reports err as an interrupt when a signal caused it.
func interrupted(env *cli.Env, err *cli.Error) error {
	if env.Ctx.Err() != nil {
		err.Code = exitcode.Interrupted.N
	}
	return err
}

// refusal gives what PlanUpgrade refused its code.
func refusal(err error) error {
	var (
		listed      *rebuild.ListError
		tool        *rebuild.ToolError
		maintenance *rebuild.MaintenanceError
	)
	switch {
	case errors.Is(err, rebuild.ErrNoProjects):
		return cli.Errorf(exitNoProjects, "nothing to upgrade: %v\nCreate one with: virtdev-create <project>", err)
	case errors.Is(err, rebuild.ErrNothingToUpgrade):
		return cli.Errorf(exitNothing, "nothing to upgrade: %v (the others are left out)", err)
	case errors.As(err, &listed):
		code := map[string]int{rebuild.AuditFailed: exitAudit, rebuild.Outdated: exitOutdated, rebuild.Busy: exitBusy}[listed.Kind]
		return cli.Errorf(code, "%v", err)
	case errors.As(err, &tool):
		return cli.Errorf(exitNoTool, "%v", err)
	case errors.As(err, &maintenance):
		return cli.Errorf(exitMaintenance, "%v", err)
	}
	return err
}

// list splits a comma-separated list of names.
func list(s string) []string {
	var names []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}
