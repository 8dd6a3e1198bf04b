// Package rebuild makes a project's machine again on the current sealed base
// without losing what its backup manifest lists: the chain virtdev-recreate
// runs (backup, stop, destroy, create, start, wait, provision, restore) and
// virtdev-upgrade runs for every project around a maintenance of the base.
//
// The chain calls the library, not the programs, so that it holds the
// locks for its whole length: the base's shared (the base the new machine
// is derived from and boots on cannot be resealed between create and
// start) and the project's (no other program starts, stops, backs up or
// restores the project between two steps).
package rebuild

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"virtdev/lib/backup"
	"virtdev/lib/base"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/lifecycle"
	"virtdev/lib/project"
	"virtdev/lib/rsync"
	"virtdev/lib/sshx"
)

// Step is one step of the chain.
type Step string

const (
	Backup    Step = "backup"
	Stop      Step = "stop"
	Destroy   Step = "destroy"
	Create    Step = "create"
	Start     Step = "start"
	Wait      Step = "wait"
	Provision Step = "provision"
	Restore   Step = "restore"
)

// Steps are all the steps, in order.
var Steps = []Step{Backup, Stop, Destroy, Create, Start, Wait, Provision, Restore}

// Options are what was asked of a rebuild.
type Options struct {
	NoBackup, NoRestore, NoProvision bool
	// Provision is a script to run instead of the project's own.
	Provision string
	// Snapshot, when set, is restored instead of a snapshot the chain
	// takes, which it then does not (virtdev-upgrade took it before).
	Snapshot string
}

// Plan is a rebuild decided before anything is done: every step either
// runs, or is skipped for a reason said up front.
type Plan struct {
	Project  string
	Options  Options
	Manifest backup.Manifest // for the backup step
	// Skipped says why a step does not run.
	Skipped map[Step]string
	// Provision is the script the provision step feeds to bash -s.
	Provision string
	// Snapshot is the snapshot the restore step restores: "" for the one
	// the backup step takes.
	Snapshot string
}

// Runs tells whether a step runs.
func (p Plan) Runs(s Step) bool {
	_, skipped := p.Skipped[s]
	return !skipped
}

// Active are the steps that run, in order.
func (p Plan) Active() []Step {
	var active []Step
	for _, s := range Steps {
		if p.Runs(s) {
			active = append(active, s)
		}
	}
	return active
}

// ManifestError is a backup the plan cannot take: no manifest, or one that
// cannot be used.
type ManifestError struct {
	Project string
	Err     error
}

func (e *ManifestError) Error() string {
	return fmt.Sprintf("%v\nOr rebuild without a backup (the newest snapshot, if any, is restored): virtdev-recreate --no-backup %s", e.Err, e.Project)
}

func (e *ManifestError) Unwrap() error { return e.Err }

// ProvisionError is a provision script given that cannot be read.
type ProvisionError struct {
	Path string
	Err  error
}

func (e *ProvisionError) Error() string {
	return fmt.Sprintf("the provision script %s cannot be read: %v", e.Path, e.Err)
}

func (e *ProvisionError) Unwrap() error { return e.Err }

// SnapshotError is a snapshot to restore that cannot be: checked before the
// machine it would go into is destroyed.
type SnapshotError struct {
	Project, ID string
	Err         error
}

func (e *SnapshotError) Error() string {
	return fmt.Sprintf("the snapshot %s cannot be restored, so nothing was done: %v", e.ID, e.Err)
}

func (e *SnapshotError) Unwrap() error { return e.Err }

// ToolError is a host without a program the plan needs (rsync, ssh).
type ToolError struct{ Err error }

func (e *ToolError) Error() string { return e.Err.Error() }
func (e *ToolError) Unwrap() error { return e.Err }

// Prepare checks everything that can be checked before the project is
// touched, and decides the plan: the machine runs (for a backup) or is
// cleanly stopped, the manifest is sound, the provision script readable,
// the sealed base whole, the key usable, rsync and ssh installed. The
// caller holds the base's lock shared and the project's.
func Prepare(ctx context.Context, l layout.Layout, units lifecycle.Units, name string, o Options) (Plan, error) {
	p := Plan{Project: name, Options: o, Skipped: map[Step]string{}, Snapshot: o.Snapshot}
	m, err := project.Find(l, name)
	if err != nil {
		return p, err
	}
	st, err := units.Status(ctx, layout.Unit(name))
	if err != nil {
		return p, exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether %s runs", name)
	}
	running := st.Running()
	if !running {
		p.Skipped[Stop] = "the machine is stopped"
		// A port file without a machine: destroy would refuse it.
		if err := lifecycle.CheckStopped(ctx, units, m); err != nil {
			return p, err
		}
	}
	switch {
	case o.Snapshot != "":
		p.Skipped[Backup] = "snapshot " + o.Snapshot + " was taken before"
	case o.NoBackup:
		p.Skipped[Backup] = "--no-backup"
	case !running:
		return p, exitcode.New(exitcode.NotRunning,
			"%s is not running, and its backup needs it\nStart it (virtdev-start %s), or rebuild without a backup (the newest snapshot, if any, is restored): virtdev-recreate --no-backup %s",
			name, name, name)
	default:
		if p.Manifest, err = manifest(l, name); err != nil {
			return p, err
		}
	}

	switch {
	case o.NoProvision:
		p.Skipped[Provision] = "--no-provision"
	case o.Provision != "":
		if err := readable(o.Provision); err != nil {
			return p, &ProvisionError{Path: o.Provision, Err: err}
		}
		p.Provision = o.Provision
	default:
		hook := l.ProjectConfig(name).Provision
		if err := readable(hook); errors.Is(err, fs.ErrNotExist) {
			p.Skipped[Provision] = "no script at " + hook
		} else if err != nil {
			return p, &ProvisionError{Path: hook, Err: err}
		} else {
			p.Provision = hook
		}
	}

	switch {
	case o.NoRestore:
		p.Skipped[Restore] = "--no-restore"
	case !p.Runs(Backup) && p.Snapshot == "":
		if p.Snapshot = backup.Latest(l, name); p.Snapshot == "" {
			p.Skipped[Restore] = "no snapshot to restore"
		}
	}
	if p.Runs(Restore) && p.Snapshot != "" {
		if _, err := backup.Open(l, name, p.Snapshot); err != nil {
			return p, &SnapshotError{Project: name, ID: p.Snapshot, Err: err}
		}
	}

	if _, err := base.Sealed(l); err != nil {
		return p, err
	}
	if err := sshx.CheckKey(l.SSHKey); err != nil {
		return p, err
	}
	// wait needs no ssh program: it probes with its own client.
	transfers := p.Runs(Backup) || p.Runs(Restore)
	if transfers {
		if err := rsync.Check(); err != nil {
			return p, &ToolError{err}
		}
	}
	if _, err := exec.LookPath("ssh"); err != nil && (transfers || p.Runs(Provision)) {
		return p, &ToolError{sshx.ErrNoSSH}
	}
	return p, nil
}

// manifest reads and checks the manifest in force.
func manifest(l layout.Layout, name string) (backup.Manifest, error) {
	path, err := backup.ResolveManifest(l, name)
	if err != nil {
		return backup.Manifest{}, &ManifestError{Project: name, Err: err}
	}
	m, err := backup.ReadManifest(path)
	if err != nil {
		return m, &ManifestError{Project: name, Err: err}
	}
	return m, nil
}

// readable checks that a script is a regular file that can be read.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}

// Describe lists the steps for people: those that run, numbered, with what
// they work on, and those skipped, with why.
func (p Plan) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Recreating %s:\n", p.Project)
	n := 0
	for _, s := range Steps {
		if why, skipped := p.Skipped[s]; skipped {
			fmt.Fprintf(&b, "  --  %-10s (skipped: %s)\n", s, why)
			continue
		}
		n++
		what := ""
		switch s {
		case Backup:
			what = "the paths " + p.Manifest.Path + " lists"
		case Destroy:
			what = "the machine's disks; backups and configuration stay"
		case Create:
			what = "on the current sealed base"
		case Provision:
			what = p.Provision
		case Restore:
			what = "the snapshot step 1 takes"
			if p.Snapshot != "" {
				what = "snapshot " + p.Snapshot
			}
		}
		fmt.Fprintf(&b, "%s\n", strings.TrimRight(fmt.Sprintf("  %2d. %-10s %s", n, s, what), " "))
	}
	if p.Runs(Restore) {
		b.WriteString("What is on the machine's disks and not in the snapshot is lost.")
	} else {
		b.WriteString("What is on the machine's disks is lost; nothing is restored.")
	}
	return b.String()
}
