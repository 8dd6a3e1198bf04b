// Command virtdev-restore copies a snapshot taken by virtdev-backup back
// into a project's running machine.
//
//	virtdev-restore [OPTIONS] <project> [snapshot]
//
// Without a snapshot id it restores the newest. The snapshot is checked
// whole before the machine is reached: it must be of this project, with its
// marker, manifest and tree, and readable generation files. stdout: the id
// restored.
package main

import (
	"errors"
	"fmt"

	"virtdev/lib/backup"
	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/term"
	"virtdev/lib/validate"
)

const (
	exitNoSnapshots          = 10
	exitSnapshotNotFound     = 11
	exitOtherProject         = 12
	exitNoMarker             = 13
	exitNoManifest           = 14
	exitNoTree               = 15
	exitBadManifest          = 16
	exitSnapshotGeneration   = 17
	exitNoProjectGeneration  = 18
	exitBadProjectGeneration = 19
	exitNoTool               = 20
	exitPartial              = 21
	exitTransport            = 22
	exitRsync                = 23
	exitNothing              = 24
	exitSSHConfig            = 25
)

const programName = "virtdev-restore"

type options struct {
	Verbose bool `short:"v" long:"verbose" description:"show rsync's progress even when standard error is not a terminal"`
}

var opts options

var command = cli.Command{
	Name:    programName,
	Group:   cli.Backup,
	Summary: "Restore a backup snapshot into a project's running machine.",
	Args: []cli.Arg{
		{Name: "project", Kind: cli.ArgProject},
		{Name: "snapshot", Kind: cli.ArgSnapshot, Optional: true},
	},
	Options: &opts,
	Description: `Copies the paths a snapshot holds (those its own copy of the manifest lists)
into /home/dev in the guest, over what is there: the files the snapshot holds
replace the guest's, everything else stays. Nothing is written outside
/home/dev. The snapshot is the newest one, or the one given by its id
(YYYY-MM-DD/HH-MM-SS, as virtdev-backup --list shows them).

Before the machine is reached, the snapshot is checked: its project marker
must name this project (snapshots are never restored across projects), its
manifest, tree and generation file must be there and sound, and so must the
project's generation file. Both generations are shown: a snapshot taken on
an older base is the usual case after virtdev-recreate.

The machine must run. rsync copies over ssh with the configuration virtdev
assembles for each connection, as virtdev-backup does. rsync writes file by
file: a transfer that fails partway leaves the guest's home half-merged, some
paths restored and others as they were; running virtdev-restore again
finishes it, skipping what already matches. stdout: the snapshot id restored.

rsync's progress is shown when standard error is a terminal, or with
--verbose.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "restored (the snapshot id is on stdout)"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.StalePort, exitcode.CorruptPort,
		{N: exitNoSnapshots, Meaning: "the project has no snapshot"},
		{N: exitSnapshotNotFound, Meaning: "no snapshot has the id given"},
		{N: exitOtherProject, Meaning: "the snapshot is of another project"},
		{N: exitNoMarker, Meaning: "the snapshot has no project marker"},
		{N: exitNoManifest, Meaning: "the snapshot has no manifest"},
		{N: exitNoTree, Meaning: "the snapshot has no tree"},
		{N: exitBadManifest, Meaning: "the snapshot's manifest lists no path, or paths that are not allowed"},
		{N: exitSnapshotGeneration, Meaning: "the snapshot's generation file is corrupt"},
		{N: exitNoProjectGeneration, Meaning: "the project has no generation file"},
		{N: exitBadProjectGeneration, Meaning: "the project's generation file is corrupt"},
		{N: exitNoTool, Meaning: "rsync or ssh is not installed on the host"},
		{N: exitPartial, Meaning: "rsync could not restore some files (partial transfer): the guest's home is half-merged"},
		{N: exitTransport, Meaning: "the SSH connection failed or was lost (if partway, the guest's home is half-merged)"},
		{N: exitRsync, Meaning: "rsync failed otherwise (if partway, the guest's home is half-merged)"},
		{N: exitNothing, Meaning: "the snapshot holds none of its manifest's paths"},
		{N: exitSSHConfig, Meaning: "the SSH configuration cannot be read or written"},
		exitcode.Output, exitcode.Locked, exitcode.KeyMissing, exitcode.KeyPermissions, exitcode.SnapshotID,
		exitcode.TriggerRefused, exitcode.Config, exitcode.NoUserManager, exitcode.Unusable,
		exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	name, id := args[0], ""
	if len(args) == 2 {
		id = args[1]
		if err := validate.SnapshotID(id); err != nil {
			return err
		}
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	m, err := project.Find(l, name)
	if err != nil {
		return err
	}
	held, err := lock.Project(l, name, programName)
	if err != nil {
		return err
	}
	defer held.Release()

	id, err = backup.Resolve(l, name, id)
	switch {
	case errors.Is(err, backup.ErrNoSnapshots):
		return cli.Errorf(exitNoSnapshots, "%v\nTake one with: virtdev-backup %s", err, name)
	case errors.Is(err, backup.ErrSnapshotNotFound):
		return cli.Errorf(exitSnapshotNotFound, "%v\nList the snapshots with: virtdev-backup --list %s", err, name)
	}
	s, err := backup.Open(l, name, id)
	if err != nil {
		return snapshotError(err)
	}
	current, err := backup.Generation(m)
	var corrupt *project.CorruptError
	switch {
	case errors.Is(err, project.ErrNoGeneration):
		return cli.Errorf(exitNoProjectGeneration, "project %q has no generation file %s, which tells the base it runs on\nRebuild the project on the current base: virtdev-recreate --no-backup %s", name, m.Generation, name)
	case errors.As(err, &corrupt):
		return cli.Errorf(exitBadProjectGeneration, "%v\nRepair it by hand (it holds the base generation the project was created on, or \"detached\").", err)
	case err != nil:
		return cli.Wrap(exitBadProjectGeneration, err, "cannot read the generation of %q", name)
	}
	t, err := backup.Reach(env.Ctx, l, name)
	if err != nil {
		return err
	}

	taken := "-"
	if s.Generation != nil {
		taken = s.Generation.String()
	}
	env.Infof("Restoring %s from %s\n  snapshot generation: %s\n  current generation:  %s", name, id, taken, current)
	stats, err := backup.Restore(env.Ctx, backup.NewLink(l, t, env.Stderr, opts.Verbose, env.Warnf), s)
	if err != nil {
		return transferError(env, err)
	}
	env.Infof("%s", env.Palette.Paint(fmt.Sprintf("Restored %d files (%s) from %s into %s",
		stats.Transferred, fsutil.SizeText(stats.Bytes), id, name), term.Green, false))
	fmt.Fprintln(env.Stdout, id)
	return nil
}

// snapshotError gives a snapshot that cannot be restored its code.
func snapshotError(err error) error {
	var (
		other    *backup.OtherProjectError
		manifest *backup.ManifestError
		corrupt  *project.CorruptError
	)
	switch {
	case errors.As(err, &other):
		return cli.Errorf(exitOtherProject, "%v\nSnapshots are restored only into the project they were taken of.", err)
	case errors.Is(err, backup.ErrNoMarker):
		return cli.Errorf(exitNoMarker, "%v", err)
	case errors.Is(err, backup.ErrSnapshotManifest):
		return cli.Errorf(exitNoManifest, "%v", err)
	case errors.Is(err, backup.ErrNoTree):
		return cli.Errorf(exitNoTree, "%v", err)
	case errors.As(err, &manifest):
		return cli.Errorf(exitBadManifest, "the snapshot's copy of its manifest cannot be used, so it is not restored: %v", err)
	case errors.As(err, &corrupt):
		return cli.Errorf(exitSnapshotGeneration, "the snapshot's record of its base generation is damaged, so it is not restored: %v", err)
	}
	return err
}

// transferCodes are this program's codes for the failures of a restore.
var transferCodes = map[backup.Failure]int{
	backup.MissingTool: exitNoTool, backup.PartialTransfer: exitPartial, backup.LostConnection: exitTransport,
	backup.RsyncFailed: exitRsync, backup.NothingFound: exitNothing, backup.SSHConfig: exitSSHConfig,
}

// transferError gives a failed restore its code.
func transferError(env *cli.Env, err error) error {
	if env.Ctx.Err() != nil {
		return cli.Errorf(exitcode.Interrupted.N, "interrupted; the guest's home may be half-merged: run virtdev-restore again to finish")
	}
	if code, ok := transferCodes[backup.FailureOf(err)]; ok {
		return cli.Errorf(code, "%v", err)
	}
	return err
}
