package rebuild

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"virtdev/lib/backup"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/lifecycle"
	"virtdev/lib/maintain"
	"virtdev/lib/project"
	"virtdev/lib/prompt"
	"virtdev/lib/rsync"
	"virtdev/lib/sshx"
	"virtdev/lib/unit"
	"virtdev/lib/validate"
)

// An upgrade backs up every project it includes, maintains the base (a
// lib/maintain session, as virtdev-maintain runs it), and rebuilds each
// project on the new base from its snapshot: the whole fleet moved to a
// new base in one command. It holds the base lock exclusively from its
// plan to its end: nothing but the upgrade starts a machine on the base,
// or changes it, meanwhile, so the machines it stopped for the
// maintenance stay stopped, and the base its rebuilds derive from is the
// one the maintenance sealed. Its backups and rebuilds take each project's
// lock in turn.

// Selection is which projects an upgrade takes, and how it goes.
type Selection struct {
	Only, Except []string
	// SkipOutdated leaves out the projects that are stopped and already
	// derived from another base: they cannot start to be backed up.
	SkipOutdated bool
	// Yes reseals without asking; Prompt asks otherwise.
	Yes    bool
	Prompt *prompt.Prompter
}

// Member is one project of an upgrade.
type Member struct {
	Name      string
	Running   bool
	Manifest  backup.Manifest
	Provision string // the project's provision script, if it has one
}

// Left is a project an upgrade leaves as it is, and why.
type Left struct {
	Name, Why string
}

// Upgrade is an upgrade decided before anything is done.
type Upgrade struct {
	Members []Member
	Left    []Left
	// Base is the sealed base's generation, Next the one the maintenance
	// reseals it as.
	Base, Next project.Generation

	maintenance *maintain.Session
	plan        *maintain.Plan
}

// Upgrade refusals, each for the program to give its own code.
var (
	ErrNoProjects       = errors.New("there are no projects")
	ErrNothingToUpgrade = errors.New("no project is left to upgrade")
)

// ListError is a refusal that names projects, each with what is wrong
// with it, if more than its kind says.
type ListError struct {
	Kind     string // AuditFailed, Outdated or Busy
	Projects []string
	Details  []string // one per project, or none
}

// ListError kinds.
const (
	AuditFailed = "audit"    // a manifest is missing or cannot be used
	Outdated    = "outdated" // stopped and derived from another base
	Busy        = "busy"     // running, and not upgraded
)

func (e *ListError) Error() string {
	var b strings.Builder
	for i, name := range e.Projects {
		b.WriteString("\n    " + name)
		if i < len(e.Details) {
			b.WriteString(": " + strings.ReplaceAll(e.Details[i], "\n", "\n        "))
		}
	}
	except := "--except=" + strings.Join(e.Projects, ",")
	switch e.Kind {
	case AuditFailed:
		return "these projects cannot be backed up, so they cannot be upgraded safely:" + b.String() +
			"\nWrite or fix their manifests, or leave them out: " + except
	case Outdated:
		return "these projects are stopped and already derived from another base, so they cannot start to be backed up:" + b.String() +
			"\nLeave them out (--skip-outdated, or " + except + ") and rebuild each by hand: virtdev-recreate --no-backup <project>"
	}
	return "these machines run and are not being upgraded; the base is not maintained while a machine runs:" + b.String() +
		"\nStop them first: virtdev-stop <project>"
}

// MaintenanceError is a maintenance of the base that cannot begin (its
// plan refused: a hook, the next generation, what an interrupted reseal
// left), or that did not reseal the base.
type MaintenanceError struct {
	Err     error
	Members []string // the projects, stopped, to start again
}

func (e *MaintenanceError) Error() string {
	if len(e.Members) == 0 {
		return fmt.Sprintf("the base cannot be maintained, so nothing was done: %v", e.Err)
	}
	return fmt.Sprintf("the base was not resealed, so no project is rebuilt: %v\n"+
		"Every project's machine is stopped and its snapshot kept; start them again on the unchanged base:\n    virtdev-start %s",
		e.Err, strings.Join(e.Members, "\n    virtdev-start "))
}

func (e *MaintenanceError) Unwrap() error { return e.Err }

// PlanUpgrade checks everything that can be checked before anything is
// done, the maintenance's plan included, and decides which projects the
// upgrade takes. The caller holds the base lock exclusively, from here to
// the end of the upgrade.
func (e Env) PlanUpgrade(ctx context.Context, sel Selection) (Upgrade, error) {
	l := e.Layout
	var u Upgrade
	named := slices.Concat(sel.Only, sel.Except)
	for _, name := range named {
		if err := validate.ProjectName(name); err != nil {
			return u, err
		}
	}
	for _, name := range named {
		if _, err := project.Find(l, name); err != nil {
			return u, err
		}
	}
	// First, as it puts right what an interrupted reseal left, and checks
	// the base.
	u.maintenance = &maintain.Session{
		Layout: l, Config: e.Config, Yes: sel.Yes, Prompt: sel.Prompt,
		Stderr: e.Stderr, Environ: os.Environ(), Stagef: e.Stagef, Infof: e.Infof, Warnf: e.Warnf,
		Ready: func(port int) {
			e.Infof("The maintenance machine is up, with SSH on 127.0.0.1:%d; the upgrade goes on once it is powered off and resealed.", port)
		},
	}
	// Planned as if the reseal needed no question: that there is a
	// terminal to ask it on is the upgrade's own question, asked once its
	// plan is whole (without --yes, its own confirmation needs one too).
	u.maintenance.Yes = true
	var err error
	if u.plan, err = u.maintenance.Plan(); err != nil {
		return u, maintenanceRefused(err)
	}
	u.maintenance.Yes = sel.Yes
	u.Base, u.Next = u.plan.Previous, u.plan.Next
	g := u.Base
	entries, err := project.List(l)
	if err != nil {
		return u, err
	}
	if len(entries) == 0 {
		return u, fmt.Errorf("%w in %s", ErrNoProjects, l.Projects())
	}
	units, err := unit.Connect(ctx)
	if err != nil {
		return u, err
	}
	defer units.Close()

	var audit, problems, outdated, busy []string
	for _, entry := range entries {
		name := entry.Name
		why := ""
		switch {
		case len(sel.Only) > 0 && !slices.Contains(sel.Only, name):
			why = "not in --only"
		case slices.Contains(sel.Except, name):
			why = "--except"
		case entry.Err != nil:
			return u, entry.Err
		}
		st, err := units.Status(ctx, layout.Unit(name))
		if err != nil {
			return u, exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether %s runs", name)
		}
		if why != "" {
			u.Left = append(u.Left, Left{name, why})
			// No machine runs while the base is maintained.
			if st.Running() {
				busy = append(busy, name)
			}
			continue
		}
		own, err := project.ReadGeneration(l.Project(name).Generation, true)
		m := Member{Name: name, Running: st.Running()}
		switch {
		case err == nil && own.Detached:
			u.Left = append(u.Left, Left{name, "detached: it does not use the base"})
			if m.Running {
				busy = append(busy, name)
			}
			continue
		case (err != nil || own.Number != g.Number) && !m.Running:
			if sel.SkipOutdated {
				u.Left = append(u.Left, Left{name, "stopped on another base: --skip-outdated"})
			} else {
				outdated = append(outdated, name)
			}
			continue
		}
		if m.Manifest, err = manifest(l, name); err != nil {
			var me *ManifestError
			if errors.As(err, &me) {
				err = me.Err
			}
			audit, problems = append(audit, name), append(problems, err.Error())
			continue
		}
		if readable(l.ProjectConfig(name).Provision) == nil {
			m.Provision = l.ProjectConfig(name).Provision
		}
		u.Members = append(u.Members, m)
	}
	switch {
	case len(outdated) > 0:
		return u, &ListError{Kind: Outdated, Projects: outdated}
	case len(audit) > 0:
		return u, &ListError{Kind: AuditFailed, Projects: audit, Details: problems}
	case len(u.Members) == 0:
		return u, ErrNothingToUpgrade
	}
	if len(busy) > 0 {
		return u, &ListError{Kind: Busy, Projects: busy}
	}
	if err := rsync.Check(); err != nil {
		return u, &ToolError{err}
	}
	if u.maintenance.Host, err = e.host(); err != nil {
		return u, &ToolError{err}
	}
	return u, nil
}

// maintenanceRefused tells which refusals of the maintenance's plan are
// the upgrade's own conditions (a tool, a key, the base).
func maintenanceRefused(err error) error {
	if _, coded := exitcode.Of(err); coded {
		return err
	}
	if errors.Is(err, sshx.ErrNoSSH) {
		return &ToolError{err}
	}
	return &MaintenanceError{Err: err}
}

// Describe lists the upgrade for people.
func (u Upgrade) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Upgrading %d project(s) from base generation %s to %s:\n", len(u.Members), u.Base, u.Next)
	for _, m := range u.Members {
		how := "stopped: started for its backup"
		if m.Running {
			how = "running"
		}
		provision := "no provision script"
		if m.Provision != "" {
			provision = "provision " + m.Provision
		}
		fmt.Fprintf(&b, "    %-30s %s; %s\n", m.Name, how, provision)
	}
	if len(u.Left) > 0 {
		fmt.Fprintf(&b, "Left as they are:\n")
		for _, left := range u.Left {
			fmt.Fprintf(&b, "    %-30s %s\n", left.Name, left.Why)
		}
	}
	b.WriteString("1. every project is backed up, and its machine stopped\n" +
		"2. the base is maintained, as virtdev-maintain does: you work in its machine, power it off, and the reseal follows\n" +
		"3. every project is recreated on the new base from its snapshot")
	return b.String()
}

// BackupError is the backup phase stopped by a project.
type BackupError struct {
	Project string
	Err     error
	Stopped []string // machines this phase stopped
}

func (e *BackupError) Error() string {
	msg := fmt.Sprintf("the backup of %s failed, so nothing is upgraded: %v\nThe base is unchanged; the snapshots taken so far are kept.", e.Project, e.Err)
	if len(e.Stopped) > 0 {
		msg += "\nThis upgrade stopped these machines; start them again with virtdev-start:\n    " + strings.Join(e.Stopped, "\n    ")
	}
	return msg
}

func (e *BackupError) Unwrap() error { return e.Err }

// BackupAll backs every member up, starting the stopped ones for it, and
// leaves every member's machine stopped, for the maintenance of the base.
// It returns the snapshot id of each.
func (e Env) BackupAll(ctx context.Context, u Upgrade) (map[string]string, error) {
	ids := map[string]string{}
	var stopped []string
	for _, m := range u.Members {
		e.Stagef("Backing up %s", m.Name)
		id, failed, err := e.backupOne(ctx, m)
		// A machine that ran before is left stopped by its backup (or
		// perhaps by a stop that failed): the user is told, should the
		// upgrade go no further.
		if m.Running && (err == nil || failed == Stop) {
			stopped = append(stopped, m.Name)
		}
		if err != nil {
			return ids, &BackupError{Project: m.Name, Err: fmt.Errorf("%s: %w", failed, err), Stopped: stopped}
		}
		ids[m.Name] = id
	}
	return ids, nil
}

// backupOne backs one member up, and returns the snapshot's id, or the step
// that failed. A machine started for its backup is stopped again, whatever
// happens.
func (e Env) backupOne(ctx context.Context, m Member) (string, Step, error) {
	s, err := lifecycle.Begin(ctx, e.Layout, e.Program, lifecycle.Want{Project: m.Name}, e.Infof)
	if err != nil {
		return "", Backup, err
	}
	defer s.Close()
	p := Plan{Project: m.Name, Manifest: m.Manifest}
	var r Result
	steps := []Step{Backup, Stop}
	if !m.Running {
		steps = []Step{Start, Wait, Backup, Stop}
	}
	for _, step := range steps {
		if err := e.step(ctx, s.Units, p, step, &r); err != nil {
			if !m.Running && (step == Wait || step == Backup) {
				e.step(context.WithoutCancel(ctx), s.Units, p, Stop, &Result{})
			}
			return r.Snapshot, step, err
		}
	}
	return r.Snapshot, "", nil
}

// Maintain runs the maintenance session: its machine boots, you work in
// it and power it off, and the base is resealed (after a question, unless
// the selection said Yes). It returns the new generation. A session that
// does not reseal is a *MaintenanceError naming the machines to start
// again.
func (e Env) Maintain(ctx context.Context, u Upgrade) (project.Generation, error) {
	var members []string
	for _, m := range u.Members {
		members = append(members, m.Name)
	}
	units, err := unit.Connect(ctx)
	if err != nil {
		return u.Base, err
	}
	defer units.Close()
	u.maintenance.Units = units
	result, err := u.maintenance.Run(ctx, u.plan)
	if err != nil {
		return u.Base, &MaintenanceError{Err: err, Members: members}
	}
	return result.Generation, nil
}

// Outcome is how one project's rebuild went.
type Outcome struct {
	Project  string
	Snapshot string
	Err      error // nil: rebuilt; a *StepError, or a refusal before any step
}

// RebuildAll recreates every member on the new base from its snapshot, one
// after the other; one that fails does not keep the others from being
// rebuilt.
func (e Env) RebuildAll(ctx context.Context, u Upgrade, ids map[string]string) []Outcome {
	var outcomes []Outcome
	for _, m := range u.Members {
		e.Stagef("Rebuilding %s", m.Name)
		err := e.rebuildOne(ctx, m.Name, ids[m.Name])
		outcomes = append(outcomes, Outcome{Project: m.Name, Snapshot: ids[m.Name], Err: err})
		if ctx.Err() != nil {
			break
		}
	}
	return outcomes
}

func (e Env) rebuildOne(ctx context.Context, name, id string) error {
	s, err := lifecycle.Begin(ctx, e.Layout, e.Program, lifecycle.Want{Project: name}, e.Infof)
	if err != nil {
		return err
	}
	defer s.Close()
	p, err := Prepare(ctx, e.Layout, s.Units, name, Options{Snapshot: id})
	if err != nil {
		return err
	}
	_, err = Run(ctx, e, s.Units, p)
	return err
}

// Resume says how to finish a project whose rebuild failed.
func (o Outcome) Resume() []string {
	var failed *StepError
	if errors.As(o.Err, &failed) {
		return failed.Resume
	}
	return []string{"virtdev-recreate --no-backup " + shellWord(o.Project)}
}

// Summary is the end of an upgrade: a table of every project, and the
// projects that failed.
type Summary struct {
	Table  string // PROJECT, RESULT, SNAPSHOT, with a heading
	Failed []Outcome
	total  int
}

// Summarize reports the rebuilds: each member's outcome (a member without
// one was not reached, after an interrupt), then the projects left out.
func Summarize(u Upgrade, outcomes []Outcome) Summary {
	var b strings.Builder
	format := "%-30s  %-30s  %s\n"
	fmt.Fprintf(&b, format, "PROJECT", "RESULT", "SNAPSHOT")
	s := Summary{total: len(u.Members)}
	done := map[string]bool{}
	for _, o := range outcomes {
		done[o.Project] = true
		result := "upgraded"
		var step *StepError
		switch {
		case errors.As(o.Err, &step):
			result = "failed at " + string(step.Step)
		case o.Err != nil:
			result = "failed"
		}
		if o.Err != nil {
			s.Failed = append(s.Failed, o)
		}
		fmt.Fprintf(&b, format, o.Project, result, o.Snapshot)
	}
	for _, m := range u.Members {
		if !done[m.Name] {
			s.Failed = append(s.Failed, Outcome{Project: m.Name, Err: errors.New("not rebuilt: the upgrade was interrupted")})
			fmt.Fprintf(&b, format, m.Name, "not rebuilt", "-")
		}
	}
	for _, left := range u.Left {
		why, _, _ := strings.Cut(left.Why, ":")
		fmt.Fprintf(&b, format, left.Name, "left: "+why, "-")
	}
	s.Table = b.String()
	return s
}

// Finish says, for people, how to finish each project that failed.
func (s Summary) Finish() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d project(s) could not be rebuilt; each keeps its snapshot. To finish:", len(s.Failed), s.total)
	for _, o := range s.Failed {
		first, _, _ := strings.Cut(o.Err.Error(), "\n")
		fmt.Fprintf(&b, "\n%s: %s\n    %s", o.Project, first, strings.Join(o.Resume(), "\n    "))
	}
	return b.String()
}
