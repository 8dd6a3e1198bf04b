package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/rsync"
	"virtdev/lib/sshx"
	"virtdev/lib/term"
	"virtdev/lib/unit"
)

// Link is how a backup or a restore reaches a running machine: rsync over
// ssh with the configuration virtdev assembles for each connection (the
// pre-ssh triggers fire before it, the post-ssh ones after).
type Link struct {
	Layout  layout.Layout
	Target  sshx.Target // located, with a usable key, its unit running
	Environ []string    // the caller's environment
	// Progress shows rsync's progress on Stderr.
	Progress bool
	Stderr   io.Writer
	Warnf    func(format string, args ...any)
}

// NewLink is the link to t as programs make it: rsync's progress shown when
// stderr is a terminal, or when verbose asks for it anyway.
func NewLink(l layout.Layout, t sshx.Target, stderr io.Writer, verbose bool, warnf func(string, ...any)) Link {
	f, isFile := stderr.(*os.File)
	return Link{
		Layout: l, Target: t, Environ: os.Environ(),
		Progress: verbose || isFile && term.IsTerminal(f),
		Stderr:   stderr, Warnf: warnf,
	}
}

// Reach locates a project's machine for a transfer: it was started (its
// port file), the key is usable, and its unit runs (the port file may have
// outlived it).
func Reach(ctx context.Context, l layout.Layout, name string) (sshx.Target, error) {
	t, err := sshx.Locate(l, name)
	if err != nil {
		return t, err
	}
	units, err := unit.Connect(ctx)
	if err != nil {
		return t, err
	}
	defer units.Close()
	return t, sshx.CheckRunning(ctx, units, t)
}

// ConnectError is a connection that could not be prepared: no ssh on the
// host, a pre-ssh trigger that refused (exitcode.TriggerRefused, kept in
// the chain), a configuration that cannot be read or written.
type ConnectError struct {
	Name string
	Err  error
}

func (e *ConnectError) Error() string {
	if errors.Is(e.Err, sshx.ErrNoSSH) {
		return e.Err.Error()
	}
	return fmt.Sprintf("cannot prepare the SSH connection to %s: %v", e.Name, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// transfer runs t over the link: rsync's messages and progress on Stderr,
// its ssh configured for this one connection.
func (k Link) transfer(ctx context.Context, t rsync.Transfer) (rsync.Stats, error) {
	// Checked first: the triggers are for connections that will be made.
	if err := rsync.Check(); err != nil {
		return rsync.Stats{}, err
	}
	session, err := sshx.Prepare(ctx, k.Layout, k.Target, nil, k.Environ, k.Stderr, k.Warnf)
	if err != nil {
		if ctx.Err() != nil {
			return rsync.Stats{}, ctx.Err()
		}
		return rsync.Stats{}, &ConnectError{Name: k.Target.Name, Err: err}
	}
	defer session.Close()
	t.SSHConfig, t.Env, t.Output, t.Progress = session.Config, session.Env, k.Stderr, k.Progress
	stats, err := t.Run(ctx)
	// The post-ssh triggers learn rsync's status, which is ssh's when
	// the connection failed (255).
	var failed *rsync.Error
	switch {
	case err == nil:
		session.Finish(ctx, 0, k.Stderr, k.Warnf)
	case errors.As(err, &failed):
		session.Finish(ctx, failed.Status, k.Stderr, k.Warnf)
	case ctx.Err() != nil:
		session.Finish(ctx, exitInterrupted, k.Stderr, k.Warnf)
	}
	return stats, err
}

// exitInterrupted is the status the post-ssh triggers see for a transfer
// cut short by a signal, as for a shell's command.
const exitInterrupted = 130

// guest is rsync's name for the guest's home on the link's machine.
func (k Link) guest() string { return rsync.Command{Host: k.Target.Alias()}.Remote(GuestHome) }

// TransferError is a backup or a restore that rsync could not complete,
// explained by its class (rsync.Class): what it left behind differs.
type TransferError struct {
	Restore bool   // a restore (else a backup)
	Project string // the project
	ID      string // the snapshot restored
	Err     *rsync.Error
}

func (e *TransferError) Unwrap() error { return e.Err }

// Class is the kind of rsync failure.
func (e *TransferError) Class() rsync.Class { return e.Err.Class }

func (e *TransferError) Error() string {
	p, status := e.Project, e.Err.Status
	if !e.Restore {
		removed := "The partial snapshot was removed; nothing of this backup was kept."
		switch e.Err.Class {
		case rsync.Partial:
			return fmt.Sprintf("the backup of %s is incomplete (rsync exit %d: partial transfer): rsync copied %d files but could not copy others; its messages above say which\n%s\nCheck the manifest's paths in the guest: virtdev-ssh %s -- ls -la",
				p, status, e.Err.Stats.Transferred, removed, p)
		case rsync.Transport:
			return fmt.Sprintf("the SSH connection to %s failed or was lost during the backup (rsync exit %d); the messages above say why\n%s\nCheck that the machine answers and has rsync (virtdev-ssh %s rsync --version), then retry: virtdev-backup %s",
				p, status, removed, p, p)
		}
		return fmt.Sprintf("rsync failed during the backup of %s (exit %d); its messages above say why\n%s", p, status, removed)
	}
	retry := fmt.Sprintf("Retry: virtdev-restore %s %s (rsync skips what already matches)", p, e.ID)
	halfMerged := "the guest's home is half-merged: some paths hold the snapshot's content, the others what they held before"
	switch e.Err.Class {
	case rsync.Partial:
		return fmt.Sprintf("the restore of %s into %s is incomplete (rsync exit %d: partial transfer): %d files were restored, others failed; rsync's messages above say which\nNow %s.\n%s",
			e.ID, p, status, e.Err.Stats.Transferred, halfMerged, retry)
	case rsync.Transport:
		return fmt.Sprintf("the SSH connection to %s failed or was lost during the restore of %s (rsync exit %d); the messages above say why\nIf it was lost partway, %s.\nCheck that the machine answers and has rsync (virtdev-ssh %s rsync --version), then: %s",
			p, e.ID, status, halfMerged, p, retry)
	}
	return fmt.Sprintf("rsync failed during the restore of %s into %s (exit %d); its messages above say why\nIf it stopped partway, %s.\n%s",
		e.ID, p, status, halfMerged, retry)
}

// explain gives a failed rsync its TransferError.
func explain(err error, restore bool, project, id string) error {
	var failed *rsync.Error
	if errors.As(err, &failed) {
		return &TransferError{Restore: restore, Project: project, ID: id, Err: failed}
	}
	return err
}

// Failure is the kind of a failed backup or restore, for which a program
// gives its own exit code.
type Failure int

const (
	// Unclassified is none of the others: the error may carry a shared
	// code (a refusing pre-ssh trigger, an interrupt), or be unexpected.
	Unclassified    Failure = iota
	MissingTool             // rsync or ssh is not installed on the host
	PartialTransfer         // rsync.Partial
	LostConnection          // rsync.Transport
	RsyncFailed             // rsync.Other
	NothingFound            // *NothingError
	CannotWrite             // *WriteError
	SSHConfig               // the connection's configuration could not be assembled
)

// FailureOf classifies an error of Take or Restore.
func FailureOf(err error) Failure {
	var (
		failed  *TransferError
		nothing *NothingError
		write   *WriteError
		connect *ConnectError
	)
	switch {
	case errors.Is(err, rsync.ErrMissing), errors.Is(err, sshx.ErrNoSSH):
		return MissingTool
	case errors.As(err, &failed):
		return map[rsync.Class]Failure{rsync.Partial: PartialTransfer, rsync.Transport: LostConnection, rsync.Interrupted: RsyncFailed, rsync.Other: RsyncFailed}[failed.Class()]
	case errors.As(err, &nothing):
		return NothingFound
	case errors.As(err, &write):
		return CannotWrite
	case errors.As(err, &connect):
		if _, coded := exitcode.Of(err); !coded {
			return SSHConfig
		}
	}
	return Unclassified
}
