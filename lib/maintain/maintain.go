// Package maintain runs a maintenance session of the sealed base: a
// writable copy of it boots as the machine "maintenance", the user (or a
// script) changes it over SSH and powers it off, and the copy becomes the
// new sealed base, one generation up, unless anything went wrong, in which
// case the old base stays as it was.
//
// virtdev-maintain is the program that runs a session; virtdev-upgrade runs
// one between backing its projects up and rebuilding them. Either holds
// the base lock exclusively (lock.Base) from Session.Plan to the end of
// Session.Run.
//
// The session, step by step:
//
//  1. Plan: what an interrupted seal or reseal left is put right
//     (base.Recover); the base, the next generation, the hooks, the SSH
//     key are checked.
//  2. Run. Refusals: a maintenance machine that runs without its session, the
//     staging directory of an earlier session, a machine of this
//     VIRTDEV_HOME that runs (its disks are deltas over the base).
//  3. The base's images are copied to the staging directory
//     (layout.Staging, also the maintenance machine's directory), sharing
//     their blocks where the file system can.
//  4. The machine starts as virtdev-maintenance.service under its
//     supervisor, as a project's does, with SSH on the lowest free port
//     from 2222, a report port (qemu.ReportPort), a host key made for the
//     session and pinned before it boots (sshx.EnsureHostKey), and its
//     network in the zone VIRTDEV_MAINTENANCE_NET names.
//  5. Once SSH lets dev in: the seal is installed in the guest (see
//     guest.go), the inventory hook runs, then VIRTDEV_SCRIPT (as root) and
//     the provision hook (as dev). The session is then open (Ready).
//  6. The session ends when the machine's unit does. It is resealed only
//     when the machine's supervisor recorded that the guest powered itself
//     off (QMP SHUTDOWN, guest true), virtdev-stop did not stop it, and the
//     seal reported that it finished: never on QEMU's exit status, which
//     is 0 after SIGTERM too.
//  7. The inventories' difference is shown, the user confirms (unless
//     Yes), both images pass qemu-img check, and base.Reseal makes them the
//     base, crash-safely.
//
// Any failure once the machine has run leaves the staging directory for
// inspection, and the error says how to remove it.
package maintain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"virtdev/lib/base"
	"virtdev/lib/config"
	"virtdev/lib/delta"
	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/image"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/prompt"
	"virtdev/lib/qemu"
	"virtdev/lib/runstate"
	"virtdev/lib/sshx"
)

// Units is what a session asks of the systemd user manager; *unit.Manager
// is one.
type Units interface {
	qemu.Units
	Running(ctx context.Context, pattern string) ([]string, error)
	Commands(ctx context.Context, service string) ([][]string, error)
}

// Session is one maintenance session and what it needs.
type Session struct {
	Layout layout.Layout
	Config *config.Config
	// Units and Host are needed by Run only, so that Plan's refusals come
	// before any question to the user manager or QEMU. Host is the host
	// side of the machine's start, as qemu.HostOptions resolves it, with
	// Supervisor set.
	Units Units
	Host  qemu.StartOptions

	Yes         bool // reseal without asking
	NoProvision bool // run neither the provision hook nor VIRTDEV_SCRIPT
	NoInventory bool // run no inventory hook

	Prompt  *prompt.Prompter
	Stderr  io.Writer // the hooks' output and the inventories' difference
	Environ []string  // the environment of ssh and the pre-ssh triggers
	Stagef  func(format string, args ...any)
	Infof   func(format string, args ...any)
	Warnf   func(format string, args ...any)
	// Ready is called once the session is open, with the maintenance
	// machine's SSH port.
	Ready func(port int)
}

// Result is what a session that resealed the base did.
type Result struct {
	Previous   project.Generation // the base's generation before
	Generation project.Generation // the new base's
	// Outdated are the projects derived from an earlier base, which
	// virtdev-upgrade (or virtdev-recreate) rebuilds on the new one.
	Outdated []string
}

// stagingPrefix starts the name of the directory the base is copied into
// before it becomes the staging directory: ".maintenance-" and something
// random, standing for maintenance/ (nuke reads it so).
const stagingPrefix = "." + layout.Maintenance + "-"

// Plan is what a session settles before it asks anything of the user
// manager or starts anything.
type Plan struct {
	Previous project.Generation // the sealed base's
	Next     project.Generation // the one a reseal gives the new base
	// Recovered says what was put right of an interrupted seal or reseal.
	Recovered []string

	hooks  hookSet
	signer ssh.Signer
	ssh    string // the ssh program
	nonce  string // the seal's word for this session
}

// Plan puts right what an interrupted seal or reseal left, and checks
// what needs neither the user manager nor QEMU: the sealed base, the next
// generation, the hooks, a way to confirm the reseal, the SSH key and
// client. The caller holds the base lock exclusively from here to the end
// of Run.
func (s *Session) Plan() (*Plan, error) {
	l := s.Layout
	p := &Plan{}
	recovered, err := base.Recover(l)
	p.Recovered = recovered.Done
	for _, done := range recovered.Done {
		s.Warnf("%s", done)
	}
	if err != nil {
		return p, &RecoveryError{err}
	}
	s.sweepCopies()
	if p.Previous, err = base.Sealed(l); err != nil {
		return p, err
	}
	if p.Next, err = s.nextGeneration(p.Previous); err != nil {
		return p, err
	}
	if p.hooks, err = s.findHooks(); err != nil {
		return p, err
	}
	if !s.Yes && !s.Prompt.Interactive {
		return p, &NotInteractiveError{}
	}
	if err := sshx.CheckKey(l.SSHKey); err != nil {
		return p, err
	}
	if p.signer, err = sshx.LoadSigner(l.SSHKey); err != nil {
		return p, &KeyError{err}
	}
	if p.ssh, err = exec.LookPath("ssh"); err != nil {
		return p, sshx.ErrNoSSH
	}
	if p.nonce, err = newNonce(); err != nil {
		return p, err
	}
	return p, nil
}

// Run runs the session Plan prepared, with Units and Host set.
func (s *Session) Run(ctx context.Context, p *Plan) (Result, error) {
	l := s.Layout
	if err := s.refuse(ctx); err != nil {
		return Result{}, err
	}
	if ctx.Err() != nil {
		return Result{}, &InterruptedError{What: "before the maintenance machine started"}
	}
	old, next := p.Previous, p.Next

	m := l.Machine(layout.Maintenance)
	s.Stagef("Copying the base (generation %s) to the staging directory %s", old, m.Dir)
	if err := s.copyBase(ctx); err != nil {
		if ctx.Err() != nil {
			return Result{}, &InterruptedError{What: "while copying the base; nothing was left behind"}
		}
		return Result{}, &CopyError{m.Dir, err}
	}
	opts := s.Host
	opts.Port, opts.Report, opts.Warn, opts.Zone = 0, true, s.Warnf, s.Config.MaintenanceNet
	begin := time.Now()
	// The staging copy is new: its machine gets a host key of its own,
	// pinned before it boots, as a project's does at its creation.
	_, err := sshx.EnsureHostKey(m)
	var port int
	if err == nil {
		port, err = qemu.Start(ctx, s.Units, l, m, opts)
	}
	if err != nil {
		// Nothing ran: the copy holds nothing of value.
		if rerr := os.RemoveAll(m.Dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("cannot remove the staging directory: %w\nRemove it: rm -rf %s", rerr, m.Dir))
		}
		if ctx.Err() != nil {
			return Result{}, &InterruptedError{What: "while the maintenance machine started; nothing was left behind"}
		}
		return Result{}, err
	}
	s.Stagef("Started the maintenance machine (%s) with SSH on 127.0.0.1:%d; waiting for SSH", layout.Unit(layout.Maintenance), port)
	st := &running{Session: s, m: m, begin: begin, nonce: p.nonce, hooks: p.hooks, ssh: p.ssh}
	defer st.close()
	if err := st.open(ctx, p.signer); err != nil {
		return Result{}, err
	}
	s.Ready(port)
	s.Infof("%s", openMessage)

	rep, err := st.await(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := st.showInventory(rep); err != nil {
		return Result{}, err
	}
	if !s.Yes {
		yes, err := s.Prompt.YesNo(fmt.Sprintf("Reseal the base with the maintained system, as generation %s?", next))
		if ctx.Err() != nil {
			return Result{}, &InterruptedError{What: "at the question", Staging: m.Dir}
		}
		if err != nil {
			return Result{}, fmt.Errorf("cannot ask whether to reseal: %w\n%s", err, kept(m.Dir))
		}
		if !yes {
			return Result{}, &DeclinedError{m.Dir}
		}
	}
	s.Stagef("Checking the maintained images")
	if err := s.check(ctx, "system", m.SystemImage); err != nil {
		return Result{}, err
	}
	if err := s.check(ctx, "home", m.HomeImage); err != nil {
		return Result{}, err
	}
	s.Stagef("Resealing the base as generation %s (was %s)", next, old)
	var oldBase *base.OldBaseError
	switch err := base.Reseal(l, next); {
	case errors.As(err, &oldBase):
		s.Warnf("%v", err)
	case err != nil:
		return Result{}, fmt.Errorf("%w\n%s", err, kept(m.Dir))
	}
	if err := os.RemoveAll(m.Dir); err != nil {
		s.Warnf("the base is resealed, but the rest of the staging directory could not be removed: %v\nRemove it: rm -rf %s", err, m.Dir)
	}
	leftovers, err := delta.Warm(ctx, l)
	for _, dir := range leftovers {
		s.Warnf("removed %s, left by an interrupted seal", dir)
	}
	if err != nil && ctx.Err() == nil {
		s.Warnf("could not prepare the empty disk deltas in %s (each virtdev-create will make its own): %v", l.DeltaTemplates(), err)
	}
	outdated, err := Outdated(l, next)
	if err != nil {
		s.Warnf("cannot tell which projects are now outdated: %v\nList them: virtdev-stale", err)
	}
	return Result{Previous: old, Generation: next, Outdated: outdated}, nil
}

const openMessage = `The session is open. Connect to the maintenance machine:
    virtdev-ssh maintenance
When done, power it off from inside; the base is then resealed:
    sudo poweroff
To abort (the base stays as it is):
    virtdev-stop maintenance`

// KeyError is a private key that cannot be read for the SSH probe.
type KeyError struct{ Err error }

func (e *KeyError) Error() string { return "cannot use the SSH key: " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

func newNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// nextGeneration is the generation the new base gets: one above the old
// one, and above every generation a project records (base.NextGeneration).
func (s *Session) nextGeneration(old project.Generation) (project.Generation, error) {
	if old.Number >= project.MaxGeneration {
		return project.Generation{}, fmt.Errorf("the base is generation %d, the last there is: it cannot be resealed\nBuild and seal a new base instead.", old.Number)
	}
	next, err := base.NextGeneration(s.Layout)
	if err != nil {
		return project.Generation{}, err
	}
	if next.Number <= old.Number {
		next.Number = old.Number + 1
	}
	return next, nil
}

// refuse checks what must not be there when a session starts.
func (s *Session) refuse(ctx context.Context) error {
	l := s.Layout
	name := layout.Unit(layout.Maintenance)
	st, err := s.Units.Status(ctx, name)
	if err != nil {
		return exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether a maintenance machine runs")
	}
	if st.Running() {
		return &OrphanError{Unit: name, State: st.ActiveState}
	}
	staging := l.Staging()
	if _, err := os.Lstat(staging.Dir); err == nil {
		e := &StagingError{Dir: staging.Dir}
		if rec, err := runstate.ReadShutdown(l.Machine(layout.Maintenance).Shutdown); err == nil {
			e.Record = &rec
		}
		return e
	}
	return s.checkNoneRunning(ctx)
}

// checkNoneRunning refuses while a machine of this VIRTDEV_HOME runs: a
// project's, or any virtdev unit whose command names a file in
// VIRTDEV_HOME (a machine whose directory was removed by hand). Machines
// of other VIRTDEV_HOMEs use other bases.
func (s *Session) checkNoneRunning(ctx context.Context) error {
	l := s.Layout
	entries, err := project.List(l)
	if err != nil {
		return err
	}
	e := &RunningError{}
	seen := map[string]bool{layout.Unit(layout.Maintenance): true}
	for _, p := range entries {
		unit := layout.Unit(p.Name)
		st, err := s.Units.Status(ctx, unit)
		if err != nil {
			return exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether %s runs", p.Name)
		}
		seen[unit] = true
		if st.Running() {
			e.Machines = append(e.Machines, p.Name)
		}
	}
	units, err := s.Units.Running(ctx, layout.Unit("*"))
	if err != nil {
		return exitcode.Wrap(exitcode.NoUserManager, err, "cannot check which machines run")
	}
	for _, u := range units {
		if seen[u] {
			continue
		}
		commands, err := s.Units.Commands(ctx, u)
		if err != nil || names(commands, l.Home+string(filepath.Separator)) {
			e.Units = append(e.Units, u)
		}
	}
	if len(e.Machines) > 0 || len(e.Units) > 0 {
		return e
	}
	return nil
}

// names reports whether a unit's commands name a path under dir.
func names(commands [][]string, dir string) bool {
	for _, argv := range commands {
		for _, arg := range argv {
			if strings.Contains(arg, dir) {
				return true
			}
		}
	}
	return false
}

// sweepCopies removes the copies that sessions killed while copying left:
// the caller holds the base lock exclusively, so no session is copying.
func (s *Session) sweepCopies() {
	entries, _ := os.ReadDir(s.Layout.Home)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), stagingPrefix) {
			path := filepath.Join(s.Layout.Home, e.Name())
			if err := os.RemoveAll(path); err != nil {
				s.Warnf("cannot remove %s, left by an interrupted virtdev-maintain: %v", path, err)
				continue
			}
			s.Warnf("removed %s, left by an interrupted virtdev-maintain", path)
		}
	}
}

// copyBase copies the base's images into a scratch directory that becomes
// the staging directory in one step, writable.
func (s *Session) copyBase(ctx context.Context) (err error) {
	l := s.Layout
	scratch, err := os.MkdirTemp(l.Home, stagingPrefix)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(scratch)
		}
	}()
	if err := os.Chmod(scratch, 0o755); err != nil {
		return err
	}
	shared := true
	for _, src := range base.Files(l.System()) {
		if err := ctx.Err(); err != nil {
			return err
		}
		reflinked, err := fsutil.Clone(src, filepath.Join(scratch, filepath.Base(src)), 0o644)
		if err != nil {
			return err
		}
		shared = shared && reflinked
	}
	if !shared {
		s.Infof("The file system cannot share blocks between files (reflinks), so the images were copied whole.")
	}
	return os.Rename(scratch, l.Staging().Dir)
}

// hookSet are the hooks of a session.
type hookSet struct {
	provision []hook // in the order they run
	inventory *hook
}

// hook is a script a session runs in the guest, read when the session
// starts.
type hook struct {
	name   string // provision, VIRTDEV_SCRIPT or inventory
	path   string
	text   []byte
	asRoot bool
}

// findHooks reads the hooks the session runs: VIRTDEV_SCRIPT (as root)
// and the provision hook (as dev), unless NoProvision; the inventory hook,
// VIRTDEV_INVENTORY or the one in the configuration, unless NoInventory.
// The configuration's hooks are optional; a variable that names a file
// that cannot be read is an error.
func (s *Session) findHooks() (hooks hookSet, err error) {
	l := s.Layout
	read := func(name, path string, optional bool) (*hook, error) {
		info, err := os.Stat(path)
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err == nil && !info.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
		var text []byte
		if err == nil {
			text, err = os.ReadFile(path)
		}
		if err != nil {
			return nil, &HookError{Hook: name, Path: path, Err: err}
		}
		return &hook{name: name, path: path, text: text}, nil
	}
	if !s.NoProvision {
		if s.Config.Script != "" {
			h, err := read("VIRTDEV_SCRIPT", s.Config.Script, false)
			if err != nil {
				return hooks, err
			}
			h.asRoot = true
			hooks.provision = append(hooks.provision, *h)
		}
		h, err := read("provision", l.MaintenanceHook("provision"), true)
		if err != nil {
			return hooks, err
		}
		if h != nil {
			hooks.provision = append(hooks.provision, *h)
		}
	}
	if !s.NoInventory {
		path, optional := s.Config.Inventory, false
		if path == "" {
			path, optional = l.MaintenanceHook("inventory"), true
		}
		if hooks.inventory, err = read("inventory", path, optional); err != nil {
			return hooks, err
		}
	}
	return hooks, nil
}

// check runs qemu-img check on a maintained image.
func (s *Session) check(ctx context.Context, which, path string) error {
	err := image.Check(ctx, path)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return &InterruptedError{What: "while checking the maintained images", Staging: filepath.Dir(path)}
	}
	return &CheckError{Which: which, Path: path, Ran: errors.As(err, &exit), Err: err, Staging: filepath.Dir(path)}
}

// Outdated lists the projects whose generation is not g, the base's:
// derived from an earlier base, they no longer boot.
func Outdated(l layout.Layout, g project.Generation) ([]string, error) {
	entries, err := project.List(l)
	if err != nil {
		return nil, err
	}
	var outdated []string
	for _, e := range entries {
		if e.Err != nil {
			continue
		}
		if st, err := project.Stale(l, e.Name, &g); err == nil && st == project.Outdated {
			outdated = append(outdated, e.Name)
		}
	}
	return outdated, nil
}
