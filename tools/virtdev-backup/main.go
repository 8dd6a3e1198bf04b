// Command virtdev-backup snapshots the guest paths a project's manifest
// lists into $VIRTDEV_HOME/backups/<project>/<date>/<time>/, and lists the
// snapshots taken.
//
//	virtdev-backup [OPTIONS] <project>
//	virtdev-backup --list [--json] <project>
//	virtdev-backup --latest <project>
//
// The manifest is checked line by line before the machine is reached; rsync
// copies over ssh with the configuration virtdev assembles; the snapshot
// is renamed into place only once complete, and its path printed on stdout.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"virtdev/lib/backup"
	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/term"
	"virtdev/lib/validate"
)

const (
	exitNoManifest    = 10
	exitEmptyManifest = 11
	exitAbsolute      = 12
	exitEscapes       = 13
	exitMalformed     = 14
	exitNoTool        = 15
	exitPartial       = 16
	exitTransport     = 17
	exitRsync         = 18
	exitNothing       = 19
	exitGeneration    = 20
	exitWrite         = 21
	exitSSHConfig     = 22
	exitNoSnapshots   = 23
)

const programName = "virtdev-backup"

type options struct {
	List    bool `short:"l" long:"list" description:"list the project's snapshots instead (the machine need not run)"`
	Latest  bool `long:"latest" description:"print the newest snapshot's id (YYYY-MM-DD/HH-MM-SS) instead"`
	JSON    bool `long:"json" description:"with --list: print the snapshots as JSON"`
	Verbose bool `short:"v" long:"verbose" description:"show rsync's progress even when standard error is not a terminal"`
}

var opts options

var command = cli.Command{
	Name:    programName,
	Group:   cli.Backup,
	Summary: "Snapshot the guest paths a project's manifest lists to the host.",
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgProject}},
	Options: &opts,
	Description: `The manifest lists paths relative to /home/dev in the guest, one per line;
blank lines and # comments are ignored; a trailing slash means a directory
and what is in it. The first of these is used, and named on stderr:
  $VIRTDEV_HOME/projects/<project>/manifest     a one-off, gone with the VM
  ~/.config/virtdev/projects/<project>/manifest  the durable one
Lines rsync would read differently from what they say are refused, each with
its line number: absolute paths, '..' components, whitespace at either end,
control characters. A path the guest does not have is skipped with a
warning; a manifest none of whose paths exist is a failure.

The machine must run. rsync copies over ssh with the configuration virtdev
assembles for each connection (see virtdev-ssh; the pre-ssh and post-ssh
triggers fire) into
  $VIRTDEV_HOME/backups/<project>/<YYYY-MM-DD>/<HH-MM-SS>/   (UTC)
    project      the project's name (virtdev-restore checks it)
    manifest     the manifest as it was
    generation   the base generation the machine ran on (or detached)
    tree/        the files, with their modes, times and symbolic links
The snapshot is written as <HH-MM-SS>.partial and renamed into place only
once complete: on any failure it is removed, and one left by a backup that
was killed is removed by the next backup, which says so. stdout: the
snapshot's directory.

--list prints DATE, TIME, AGE, SIZE and GENERATION, one snapshot a line,
oldest first (--json: an array of objects); --latest prints the newest
snapshot's id. Neither needs the machine, nor the project: backups outlive
virtdev-destroy.

rsync's progress is shown when standard error is a terminal, or with
--verbose.`,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "backed up (the snapshot's directory is on stdout), or listed"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.NotRunning, exitcode.StalePort, exitcode.CorruptPort,
		{N: exitNoManifest, Meaning: "no backup manifest, or it cannot be read"},
		{N: exitEmptyManifest, Meaning: "the manifest lists no path"},
		{N: exitAbsolute, Meaning: "the manifest has absolute paths"},
		{N: exitEscapes, Meaning: "the manifest has paths with '..' components"},
		{N: exitMalformed, Meaning: "the manifest has lines with whitespace at either end or control characters"},
		{N: exitNoTool, Meaning: "rsync or ssh is not installed on the host"},
		{N: exitPartial, Meaning: "rsync could not copy some files (partial transfer); nothing was kept"},
		{N: exitTransport, Meaning: "the SSH connection failed or was lost; nothing was kept"},
		{N: exitRsync, Meaning: "rsync failed otherwise; nothing was kept"},
		{N: exitNothing, Meaning: "none of the manifest's paths exist in the guest; nothing was kept"},
		{N: exitGeneration, Meaning: "the project's generation file is missing or corrupt"},
		{N: exitWrite, Meaning: "the snapshot cannot be written on the host"},
		{N: exitSSHConfig, Meaning: "the SSH configuration cannot be read or written"},
		{N: exitNoSnapshots, Meaning: "--latest: the project has no snapshot"},
		exitcode.Output, exitcode.Locked, exitcode.KeyMissing, exitcode.KeyPermissions,
		exitcode.TriggerRefused, exitcode.Config, exitcode.NoUserManager, exitcode.Unusable,
		exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	name := args[0]
	switch {
	case opts.List && opts.Latest:
		return cli.Usage("--list and --latest exclude each other")
	case opts.JSON && !opts.List:
		return cli.Usage("--json goes with --list")
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	if opts.List || opts.Latest {
		return list(env, l, name)
	}
	if _, err := project.Find(l, name); err != nil {
		return err
	}
	held, err := lock.Project(l, name, programName)
	if err != nil {
		return err
	}
	defer held.Release()

	manifest, err := readManifest(env, l, name)
	if err != nil {
		return err
	}
	t, err := backup.Reach(env.Ctx, l, name)
	if err != nil {
		return err
	}
	g, err := backup.Generation(t.Machine)
	if err != nil {
		return cli.Wrap(exitGeneration, err, "cannot tell which base %s runs on, which its snapshot records", name)
	}
	taken, err := backup.Take(env.Ctx, backup.NewLink(l, t, env.Stderr, opts.Verbose, env.Warnf), manifest, g)
	if err != nil {
		return transferError(env, name, err)
	}
	for _, m := range taken.Missing {
		env.Warnf("%s is not in the guest; skipped", backup.GuestHome+m)
	}
	env.Infof("%s", env.Palette.Paint(fmt.Sprintf("Backed up %d files (%s) from %s: snapshot %s",
		taken.Stats.Transferred, fsutil.SizeText(taken.Stats.Bytes), name, taken.ID), term.Green, false))
	fmt.Fprintln(env.Stdout, taken.Snapshot.Dir)
	return nil
}

// readManifest finds the manifest in force, says which on stderr, and
// checks it.
func readManifest(env *cli.Env, l layout.Layout, name string) (backup.Manifest, error) {
	path, err := backup.ResolveManifest(l, name)
	if err != nil {
		return backup.Manifest{}, cli.Errorf(exitNoManifest, "%v", err)
	}
	env.Infof("manifest: %s", path)
	m, err := backup.ReadManifest(path)
	var bad *backup.ManifestError
	switch {
	case errors.As(err, &bad):
		return m, cli.Errorf(manifestCode(bad), "%v", err)
	case err != nil:
		return m, cli.Wrap(exitNoManifest, err, "cannot read the backup manifest")
	}
	return m, nil
}

// manifestCode is the code of a manifest's first kind of problem.
func manifestCode(e *backup.ManifestError) int {
	switch e.Kind() {
	case "":
		return exitEmptyManifest
	case backup.ProblemAbsolute:
		return exitAbsolute
	case backup.ProblemEscapes:
		return exitEscapes
	}
	return exitMalformed
}

// transferCodes are this program's codes for the failures of a backup.
var transferCodes = map[backup.Failure]int{
	backup.MissingTool: exitNoTool, backup.PartialTransfer: exitPartial, backup.LostConnection: exitTransport,
	backup.RsyncFailed: exitRsync, backup.NothingFound: exitNothing, backup.CannotWrite: exitWrite,
	backup.SSHConfig: exitSSHConfig,
}

// transferError gives a failed backup its code.
func transferError(env *cli.Env, name string, err error) error {
	if env.Ctx.Err() != nil {
		return cli.Errorf(exitcode.Interrupted.N, "interrupted; the partial snapshot was removed")
	}
	code, ok := transferCodes[backup.FailureOf(err)]
	switch {
	case !ok:
		return err
	case code == exitNothing:
		return cli.Errorf(code, "%v\nNothing was kept. Compare the manifest with the guest: virtdev-ssh %s -- ls -la", err, name)
	}
	return cli.Errorf(code, "%v", err)
}

// list prints the snapshots (--list) or the newest one's id (--latest).
// Backups outlive their project, so a name with backups but no project is
// listed too.
func list(env *cli.Env, l layout.Layout, name string) error {
	if err := validate.ProjectName(name); err != nil {
		return err
	}
	if _, err := project.Find(l, name); err != nil {
		if exitcode.For(err) != exitcode.NotFound.N {
			return err
		}
		if _, statErr := os.Stat(l.Backups(name)); statErr != nil {
			return err
		}
	}
	for _, p := range backup.Partials(l.Backups(name)) {
		env.Warnf("%s is an unfinished snapshot, not listed: a backup under way, or one that was killed (the next backup removes it)", p)
	}
	infos := backup.List(l, name)
	if opts.Latest {
		if len(infos) == 0 {
			return cli.Errorf(exitNoSnapshots, "project %q has no snapshot in %s\nTake one with: virtdev-backup %s", name, l.Backups(name), name)
		}
		fmt.Fprintln(env.Stdout, infos[len(infos)-1].ID)
		return nil
	}
	now := time.Now()
	if opts.JSON {
		return printJSON(env, infos, now)
	}
	if len(infos) == 0 {
		env.Infof("No snapshots of %s. Take one with: virtdev-backup %s", name, name)
		return nil
	}
	format := "%-10s  %-8s  %-9s  %9s  %s\n"
	fmt.Fprintf(env.Stdout, format, "DATE", "TIME", "AGE", "SIZE", "GENERATION")
	for _, s := range infos {
		date, clock, _ := strings.Cut(s.ID, "/")
		fmt.Fprintf(env.Stdout, format, date, clock, age(now.Sub(s.Taken)), fsutil.SizeText(s.Size), s.Generation)
	}
	return nil
}

func printJSON(env *cli.Env, infos []backup.Info, now time.Time) error {
	type entry struct {
		ID         string    `json:"id"`
		Taken      time.Time `json:"taken"`
		AgeSeconds int64     `json:"age_seconds"`
		Size       int64     `json:"size"`
		Generation string    `json:"generation"`
	}
	entries := []entry{}
	for _, s := range infos {
		entries = append(entries, entry{s.ID, s.Taken, int64(max(now.Sub(s.Taken), 0) / time.Second), s.Size, s.Generation})
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	// Nothing here fails to encode; a failed write is the frame's to
	// report (exit 74).
	enc.Encode(entries)
	return nil
}

// age says how long ago, in the largest whole unit.
func age(d time.Duration) string {
	switch d = max(d, 0); {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}
