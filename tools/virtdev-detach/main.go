// Command virtdev-detach makes a project independent of the sealed base.
//
//	virtdev-detach [OPTIONS] <project>
//
// The project's thin deltas become standalone images holding everything
// the base gave them, and its generation becomes "detached": it boots
// whatever happens to the base, is skipped by upgrade, and must be updated
// on its own. By default the images are converted into a copy that is
// swapped in at once (an interruption leaves the project attached, and
// the next run cleans up); --in-place rebases the existing files instead,
// with less disk space and no way back.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/lifecycle"
	"virtdev/lib/project"
	"virtdev/lib/prompt"
	"virtdev/lib/term"
	"virtdev/lib/validate"
)

const (
	exitNeedsConfirmation = 10
	exitDeclined          = 11
	exitAlreadyDetached   = 12
	exitUnresolved        = 13
	exitOutdated          = 14
	exitNoGeneration      = 15
	exitConvertFailed     = 16
	exitCopyDamaged       = 17
	exitRebaseFailed      = 18
	exitRebasedDamaged    = 19
	exitLeftover          = 20
)

type options struct {
	InPlace bool `long:"in-place" description:"rebase the existing images instead of converting copies: less disk space, no rollback if interrupted"`
	Yes     bool `short:"y" long:"yes" description:"detach without asking (needed when standard input is not a terminal)"`
}

var opts options

var command = cli.Command{
	Name:    "virtdev-detach",
	Group:   cli.Lifecycle,
	Summary: "Turn a project's deltas into standalone images, independent of the base.",
	Description: `Makes the project's system and home disks standalone qcow2 images holding
everything the sealed base gave them, and records the generation "detached".
A detached project boots whatever becomes of the base (no generation check),
is skipped by virtdev-upgrade, shows as detached in virtdev-list, and must be
updated on its own; virtdev-recreate attaches it to the current base again.

The machine must be stopped, and the project derived from the current base
(a project made over an earlier base is refused: its deltas no longer match
the base they read through to).

By default both disks are converted at once (qemu-img convert, with progress
on a terminal) into a staging directory beside the project, checked, and
swapped with the project directory in one rename: the project is attached or
detached, never in between. This needs room for a full copy of both disks.
An interruption before the swap leaves the project attached; the next
virtdev-detach, move or destroy of the project removes the unfinished copy.

--in-place rebases the existing images onto nothing (qemu-img rebase -b ""):
no copy, but an interrupted rebase cannot be undone (running it again goes
on where it stopped).

It asks before it starts; --yes skips the question, which a program reading
no terminal must give. No backup is taken: virtdev-backup first if the
project holds anything you cannot rebuild.`,
	Args:    []cli.Arg{{Name: "project", Kind: cli.ArgProject}},
	Options: &opts,
	Codes: []exitcode.Code{
		{N: 0, Meaning: "detached"},
		exitcode.InvalidName, exitcode.NotFound, exitcode.StalePort, exitcode.Running,
		{N: exitNeedsConfirmation, Meaning: "confirmation needed: standard input is not a terminal and --yes was not given"},
		{N: exitDeclined, Meaning: "not confirmed"},
		{N: exitAlreadyDetached, Meaning: "the project is already detached"},
		{N: exitUnresolved, Meaning: "an interrupted operation on the project can be neither finished nor undone (the message says what is where)"},
		{N: exitOutdated, Meaning: "the project was derived from an earlier base than the sealed one"},
		{N: exitNoGeneration, Meaning: "the project's generation file is missing or corrupt"},
		{N: exitConvertFailed, Meaning: "a disk could not be converted; the project is unchanged"},
		{N: exitCopyDamaged, Meaning: "a converted disk failed qemu-img check; the project is unchanged"},
		{N: exitRebaseFailed, Meaning: "--in-place: a disk could not be rebased (it still names its backing file; run again to go on)"},
		{N: exitRebasedDamaged, Meaning: "--in-place: a rebased disk failed qemu-img check"},
		{N: exitLeftover, Meaning: "detached, but the attached disks left beside the project could not be removed"},
		exitcode.Locked, exitcode.Config, exitcode.NoUserManager, exitcode.Unusable,
		exitcode.NoBase, exitcode.BaseDamaged, exitcode.HomeUnusable,
	},
	Run: run,
}

func main() { cli.Main(command) }

func run(env *cli.Env, args []string) error {
	name := args[0]
	if err := validate.ProjectName(name); err != nil {
		return err
	}
	l, err := env.Layout()
	if err != nil {
		return err
	}
	s, err := lifecycle.Begin(env.Ctx, l, env.Name, lifecycle.Want{Project: name, Base: true}, env.Infof)
	if err != nil {
		return ownError(err)
	}
	defer s.Close()
	m, err := project.Find(l, name)
	if err != nil {
		return err
	}
	if err := lifecycle.CheckStopped(env.Ctx, s.Units, m); err != nil {
		return err
	}
	g, err := lifecycle.CheckAttached(l, name)
	if err != nil {
		return ownError(err)
	}

	mode := "convert into a copy, then swap it in (needs room for a full copy of both disks)"
	question := "Detach project " + name + "?"
	if opts.InPlace {
		mode = "in place (less disk space; NO ROLLBACK if interrupted)"
		question = "Detach project " + name + " in place, with no way back if it is interrupted?"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Detaching project %s from the base (generation %s):\n", name, g)
	fmt.Fprintf(&b, "    system disk: %s\n    home disk:   %s\n    mode:        %s\n", m.SystemImage, m.HomeImage, mode)
	b.WriteString("No backup is taken; virtdev-backup first if the project holds what you cannot rebuild.")
	env.Infof("%s", b.String())
	if !opts.Yes {
		ok, err := env.Prompt.YesNo(question)
		switch {
		case errors.Is(err, prompt.ErrNotInteractive):
			return cli.Errorf(exitNeedsConfirmation, "not detached: confirmation is needed, and standard input is not a terminal\nTo detach %s without a question: virtdev-detach --yes %s", name, name)
		case err != nil || !ok:
			return cli.Errorf(exitDeclined, "not detached: not confirmed")
		}
	}

	o := lifecycle.DetachOptions{InPlace: opts.InPlace}
	bar := newProgress(env)
	if bar.out != nil {
		o.Progress = bar.update
	}
	err = lifecycle.Detach(env.Ctx, l, name, o, env.Infof)
	bar.done()
	if err != nil {
		return ownError(err)
	}
	env.Infof("%s", env.Palette.Paint("Project "+name+" is detached from the base", term.Green, false))
	return nil
}

// ownError gives the lifecycle library's conditions this program's codes.
func ownError(err error) error {
	var (
		disk       *lifecycle.DiskError
		detached   *lifecycle.AlreadyDetachedError
		outdated   *lifecycle.OutdatedError
		generation *lifecycle.GenerationError
		leftover   *lifecycle.LeftoverError
		unresolved *lifecycle.UnresolvedError
	)
	switch {
	case errors.Is(err, context.Canceled) && errors.As(err, &disk) && disk.InPlace:
		return cli.Errorf(exitcode.Interrupted.N, "interrupted while rebasing %s\nAn unfinished rebase leaves the disk naming its backing file; run virtdev-detach --in-place again to go on.", disk.Disk)
	case errors.Is(err, context.Canceled):
		return cli.Errorf(exitcode.Interrupted.N, "interrupted: the project is unchanged (still attached), and the unfinished copy is removed")
	case errors.As(err, &disk):
		return diskError(disk, err)
	case errors.As(err, &detached):
		return cli.Errorf(exitAlreadyDetached, "%v", err)
	case errors.As(err, &outdated):
		return cli.Errorf(exitOutdated, "%v", err)
	case errors.As(err, &generation):
		return cli.Errorf(exitNoGeneration, "%v", err)
	case errors.As(err, &leftover):
		return cli.Wrap(exitLeftover, err, "the project is detached, but")
	case errors.As(err, &unresolved):
		return cli.Wrap(exitUnresolved, err, "not detached")
	}
	return err
}

func diskError(d *lifecycle.DiskError, err error) error {
	switch {
	case d.InPlace && d.Verify:
		return cli.Errorf(exitRebasedDamaged, "%v\nThe disk is rebased but damaged; restore the project from a backup, or rebuild it: virtdev-recreate", err)
	case d.InPlace:
		return cli.Errorf(exitRebaseFailed, "%v\nAn unfinished rebase leaves the disk naming its backing file; once the cause is fixed, run virtdev-detach --in-place again to go on.", err)
	case d.Verify:
		return cli.Errorf(exitCopyDamaged, "%v\nThe project is unchanged (still attached); the damaged copy was removed.", err)
	}
	return cli.Errorf(exitConvertFailed, "%v\nThe project is unchanged (still attached). Check the free space where it lives: df -h %s", err, filepath.Dir(d.Disk))
}

// progress shows how far each disk has got, on one line of a terminal;
// without one (out is nil) qemu-img is not asked for progress nobody sees.
type progress struct {
	mu      sync.Mutex
	out     *os.File
	percent map[string]float64
	order   []string
}

func newProgress(env *cli.Env) *progress {
	f, ok := env.Stderr.(*os.File)
	if !ok || !term.IsTerminal(f) {
		return &progress{}
	}
	return &progress{out: f, percent: map[string]float64{}}
}

func (p *progress) update(disk string, pct float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.percent[disk]; !seen {
		p.order = append(p.order, disk)
	}
	p.percent[disk] = pct
	var parts []string
	for _, d := range p.order {
		parts = append(parts, fmt.Sprintf("%s %5.1f%%", d, p.percent[d]))
	}
	fmt.Fprintf(p.out, "\r    %s ", strings.Join(parts, "   "))
}

func (p *progress) done() {
	if p.out != nil && len(p.order) > 0 {
		fmt.Fprintln(p.out)
	}
}
