package rebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"

	"virtdev/lib/backup"
	"virtdev/lib/base"
	"virtdev/lib/dispatch"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/lifecycle"
	"virtdev/lib/project"
	"virtdev/lib/rsync"
	"virtdev/lib/sshx"
	"virtdev/lib/unit"
	"virtdev/lib/validate"
)

// An upgrade backs up every project it includes, has the base maintained
// (virtdev-maintain), and rebuilds each project on the new base from its
// snapshot: the whole fleet moved to a new base in one command.

// Selection is which projects an upgrade takes.
type Selection struct {
	Only, Except []string
	// SkipOutdated leaves out the projects that are stopped and already
	// derived from another base: they cannot start to be backed up.
	SkipOutdated bool
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
	Base    project.Generation // the sealed base's generation before
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
	Busy        = "busy"     // running, attached to the base, and not upgraded
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
	return "these machines run on the base and are not being upgraded; the base cannot change under them:" + b.String() +
		"\nStop them first: virtdev-stop <project>"
}

// PlanUpgrade checks everything that can be checked before anything is
// done, and decides which projects the upgrade takes.
func PlanUpgrade(ctx context.Context, l layout.Layout, sel Selection) (Upgrade, error) {
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
	g, err := base.Sealed(l)
	if err != nil {
		return u, err
	}
	u.Base = g
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
	for _, e := range entries {
		name := e.Name
		why := ""
		switch {
		case len(sel.Only) > 0 && !slices.Contains(sel.Only, name):
			why = "not in --only"
		case slices.Contains(sel.Except, name):
			why = "--except"
		case e.Err != nil:
			return u, e.Err
		}
		st, err := units.Status(ctx, layout.Unit(name))
		if err != nil {
			return u, exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether %s runs", name)
		}
		own, err := project.ReadGeneration(l.Project(name).Generation, true)
		if why != "" {
			u.Left = append(u.Left, Left{name, why})
			// The base must not change under a machine that reads
			// through to it.
			if st.Running() && !own.Detached {
				busy = append(busy, name)
			}
			continue
		}
		m := Member{Name: name, Running: st.Running()}
		switch {
		case err == nil && own.Detached:
			u.Left = append(u.Left, Left{name, "detached: it does not use the base"})
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
	if err := sshx.CheckKey(l.SSHKey); err != nil {
		return u, err
	}
	if err := rsync.Check(); err != nil {
		return u, &ToolError{err}
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		return u, &ToolError{sshx.ErrNoSSH}
	}
	if _, ok := dispatch.Find(dispatch.SelfDir(), "maintain"); !ok {
		return u, ErrNoMaintain
	}
	return u, nil
}

// Describe lists the upgrade for people.
func (u Upgrade) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Upgrading %d project(s) from base generation %s:\n", len(u.Members), u.Base)
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
		"2. the base is maintained (virtdev-maintain): you work in its machine, then confirm the reseal\n" +
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
	s, err := lifecycle.Begin(ctx, e.Layout, e.Program, lifecycle.Want{Project: m.Name, Base: true}, e.Infof)
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

// ErrNoMaintain: virtdev-maintain is neither beside this program nor on
// PATH.
var ErrNoMaintain = errors.New("virtdev-maintain, which maintains the base, is neither beside this program nor on PATH\nInstall virtdev whole (make install installs every program).")

// MaintainError is a maintenance of the base that did not reseal it.
type MaintainError struct {
	Err     error // how virtdev-maintain ended
	Members []string
}

func (e *MaintainError) Error() string {
	return fmt.Sprintf("the base was not resealed (%v), so no project is rebuilt\n"+
		"Every project's machine is stopped and its snapshot kept; start them again on the unchanged base:\n    virtdev-start %s",
		e.Err, strings.Join(e.Members, "\n    virtdev-start "))
}

func (e *MaintainError) Unwrap() error { return e.Err }

// Maintain has the base maintained by virtdev-maintain, in the terminal,
// and returns the new generation. The reseal is the maintenance's to
// confirm; yes is handed on. The maintenance counts as done when the
// base's generation changed, whatever virtdev-maintain's status: that is
// the commit point of the whole upgrade.
func (e Env) Maintain(ctx context.Context, u Upgrade, yes bool, stdin io.Reader) (project.Generation, error) {
	program, ok := dispatch.Find(dispatch.SelfDir(), "maintain")
	if !ok {
		return u.Base, ErrNoMaintain
	}
	args := []string{}
	if yes {
		args = append(args, "--yes")
	}
	cmd := exec.CommandContext(ctx, program, args...)
	// Its results are not this program's: everything it says is for
	// people.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, e.Stderr, e.Stderr
	ran := cmd.Run()
	g, err := base.Sealed(e.Layout)
	if err != nil {
		return u.Base, errors.Join(ran, err)
	}
	var members []string
	for _, m := range u.Members {
		members = append(members, m.Name)
	}
	switch {
	case g.Number != u.Base.Number:
		if ran != nil {
			e.Warnf("virtdev-maintain ended unsuccessfully (%v), but the base was resealed: the projects are rebuilt on it", ran)
		}
		return g, nil
	case ran == nil:
		ran = errors.New("virtdev-maintain ended without a reseal")
	}
	return u.Base, &MaintainError{Err: fmt.Errorf("virtdev-maintain: %w", ran), Members: members}
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
	s, err := lifecycle.Begin(ctx, e.Layout, e.Program, lifecycle.Want{Project: name, Base: true}, e.Infof)
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
