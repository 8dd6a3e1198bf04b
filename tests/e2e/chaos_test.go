//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// locked is the shared exit code of a program that found a lock it needs
// held.
const locked = 75

// TestChaos runs several projects at once, as a team's scripts would: a
// create during a seal, ten creates at once, then random programs on four
// projects and their neighbours with SIGKILL sent at random moments, and
// checks that nothing was lost: every program exits with a code that
// says what happened, every leftover of a killed program is put right by
// the next one, the sealed base is untouched, every lock is free, every
// line a guest confirmed writing is still there, and all the projects
// boot at once and answer.
//
// VIRTDEV_E2E_CHAOS bounds the random part (a Go duration, default
// 2m30s, which makes the whole test about five minutes on an idle 2-core
// host); VIRTDEV_E2E_CHAOS_SEED replays a run's random choices (its seed
// is logged), though not the timing of what they meet.
func TestChaos(t *testing.T) {
	duration := 2*time.Minute + 30*time.Second
	if v := os.Getenv("VIRTDEV_E2E_CHAOS"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("VIRTDEV_E2E_CHAOS=%q is not a positive duration such as 2m30s", v)
		}
		duration = d
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("VIRTDEV_E2E_CHAOS_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("VIRTDEV_E2E_CHAOS_SEED=%q is not a number", v)
		}
		seed = n
	}
	t.Logf("chaos seed %d (replay its choices with VIRTDEV_E2E_CHAOS_SEED=%d)", seed, seed)

	s := newSuite(t).with("VIRTDEV_WAIT_TIMEOUT=120", "VIRTDEV_STOP_TIMEOUT=30")
	s.installation(t)
	c := &chaos{s: s, seed: seed}
	// Unit names are the user manager's, which other runs may share.
	c.tag = fmt.Sprintf("%04x", rand.Intn(1<<16))

	t.Run("create during a seal", c.createDuringSeal)
	if t.Failed() {
		return
	}
	base := s.path(t, "base")
	sealed := checksums(t, base)
	t.Run("ten creates at once", c.tenCreates)
	if t.Failed() {
		return
	}
	t.Run("random programs and kills", func(t *testing.T) { c.run(t, duration) })
	t.Run("right after", c.rightAfter)
	t.Run("settle", c.settle)
	t.Run("all boot at once", c.bootAll)
	t.Run("invariants", func(t *testing.T) {
		c.check(t, "the sealed base is byte-identical", sameSums(sealed, checksums(t, base)))
		c.invariants(t)
	})
	t.Logf("FIGURE chaos: %d operations by %d workers, %d SIGKILLs that hit a running program, %d invariant checks, over %s",
		c.ops.Load(), c.workers, c.kills.Load(), c.checks.Load(), duration)
}

// chaos is one run: the suite, the names it plays with, and its counts.
type chaos struct {
	s    *suite
	seed int64
	tag  string

	workers int
	ops     atomic.Int64
	kills   atomic.Int64
	checks  atomic.Int64

	mu sync.Mutex
	// written are the lines guests confirmed writing (virtdev-ssh exited
	// 0 after sync): each must be found in one of the content projects
	// at the end, whatever was killed meanwhile.
	written []string
}

// The names: content projects (a…) are written to, moved, detached,
// started and stopped, never destroyed, so that nothing written to them
// may go missing; the spare content names are where moves take them.
// Scratch projects (b…) are created and destroyed. Extra projects (x…)
// only take part in the ten creates at once.
func (c *chaos) name(kind string, i int) string { return fmt.Sprintf("ch%s-%s%d", c.tag, kind, i) }

func (c *chaos) content() []string {
	return []string{c.name("a", 0), c.name("a", 1), c.name("a", 2), c.name("a", 3), c.name("a", 4), c.name("a", 5)}
}

// contentProjects are the content names created at first; the others
// exist only as moves' targets.
const contentProjects = 4

func (c *chaos) scratch() []string { return []string{c.name("b", 0), c.name("b", 1)} }

// check counts an invariant check, and fails the test if err says it does
// not hold.
func (c *chaos) check(t *testing.T, what string, err error) {
	t.Helper()
	c.checks.Add(1)
	if err != nil {
		t.Errorf("invariant broken: %s: %v (seed %d)", what, err, c.seed)
	}
}

// createDuringSeal runs virtdev-seal with a qemu-img that takes its time
// over the checks, and a create meanwhile: the create is refused at once,
// naming the seal, which goes on and seals.
func (c *chaos) createDuringSeal(t *testing.T) {
	real, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Fatalf("qemu-img: %v", err)
	}
	slow := filepath.Join(c.s.root, "slow-qemu-img")
	checking := filepath.Join(slow, "checking")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = check ]; then : > %s; sleep 4; fi\nexec %s \"$@\"\n", checking, real)
	if err := os.MkdirAll(slow, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(slow, "qemu-img"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	seal := c.s.with("PATH="+slow+":"+os.Getenv("PATH")).background(t, "virtdev-seal")
	for {
		if _, err := os.Stat(checking); err == nil {
			break
		}
		if err := seal.wait(100 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "still running") {
			t.Fatalf("virtdev-seal ended before checking the images: %v", err)
		}
	}
	began := time.Now()
	c.s.refuses(t, locked, "virtdev-seal", "virtdev-create", c.name("a", 0))
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("the create took %s to be refused, want at once", d)
	}
	if holder := c.s.read(t, filepath.Join(c.s.home, "lock")); !strings.Contains(holder, "virtdev-seal") {
		t.Errorf("the base lock names %q, want virtdev-seal", holder)
	}
	if err := seal.wait(time.Minute); err != nil {
		t.Fatalf("virtdev-seal: %v", err)
	}
}

// tenCreates creates ten projects at once, all of which must succeed, then
// destroys the extra ones at once.
func (c *chaos) tenCreates(t *testing.T) {
	names := append(c.content()[:contentProjects], c.scratch()...)
	var extra []string
	for i := len(names); i < 10; i++ {
		extra = append(extra, c.name("x", i))
	}
	names = append(names, extra...)
	began := time.Now()
	results := c.s.all(t, 2*time.Minute, "virtdev-create", names)
	t.Logf("FIGURE ten creates at once: %s", time.Since(began).Round(time.Millisecond))
	for i, r := range results {
		if r.code != 0 || strings.TrimSpace(r.stdout) != filepath.Join(c.s.home, "projects", names[i]) {
			t.Errorf("virtdev-create %s among ten at once: exit %d, stdout %q:\n%s", names[i], r.code, r.stdout, r.stderr)
		}
	}
	for i, r := range c.s.all(t, 2*time.Minute, "virtdev-destroy", extra, "--yes") {
		if r.code != 0 {
			t.Errorf("virtdev-destroy %s among %d at once: exit %d:\n%s", extra[i], len(extra), r.code, r.stderr)
		}
	}
}

// all runs a program once for each name, all at once, with the same
// arguments before the name.
func (s *suite) all(t *testing.T, timeout time.Duration, program string, names []string, args ...string) []outcome {
	t.Helper()
	results := make([]outcome, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.runQuiet(timeout, program, append(append([]string{}, args...), name)...)
		}()
	}
	wg.Wait()
	for i, r := range results {
		t.Logf("%s %s → exit %d in %s", program, names[i], r.code, r.took.Round(time.Millisecond))
	}
	return results
}

// outcome is one run of a program under chaos.
type outcome struct {
	result
	took   time.Duration
	killed bool // SIGKILL hit it while it ran
	hung   bool // it outlived its timeout, and was killed for it
}

// runQuiet runs a program from any goroutine (t.Fatal may not be called
// there), killing it after kill (when above 0) as chaos does.
func (s *suite) runQuiet(timeout time.Duration, program string, args ...string) outcome {
	return s.runKilled(timeout, 0, program, args...)
}

func (s *suite) runKilled(timeout, kill time.Duration, program string, args ...string) outcome {
	cmd := exec.Command(filepath.Join(s.bin, program), args...)
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its output is read to the end even when a child (ssh) outlives it.
	cmd.WaitDelay = 10 * time.Second
	began := time.Now()
	var o outcome
	if err := cmd.Start(); err != nil {
		o.code, o.stderr = -1, err.Error()
		return o
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var killTimer <-chan time.Time
	if kill > 0 {
		killTimer = time.After(kill)
	}
	deadline := time.After(timeout)
	var err error
	for waiting := true; waiting; {
		select {
		case err = <-done:
			waiting = false
		case <-killTimer:
			if cmd.Process.Signal(syscall.SIGKILL) == nil {
				o.killed = true
			}
			killTimer = nil
		case <-deadline:
			cmd.Process.Signal(syscall.SIGKILL)
			o.hung = true
			deadline = nil
		}
	}
	o.took = time.Since(began)
	o.stdout, o.stderr = stdout.String(), stderr.String()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		o.code = exit.ExitCode()
	case err != nil:
		o.code = -1
		o.stderr += "\n" + err.Error()
	}
	// A kill that came after the program had ended hit nothing.
	if o.killed && o.code != -1 {
		o.killed = false
	}
	return o
}

// op is one kind of thing chaos does.
type op struct {
	name   string
	weight int
	// killWithin bounds the random moment of a SIGKILL: about the time
	// the program takes, so that most kills hit it at work.
	killWithin time.Duration
	// allowed are the exit codes that tell what happened under chaos;
	// any other is a failure.
	allowed []int
	// args picks the arguments, from the worker's randomness; nil skips
	// this op this time.
	args func(c *chaos, r *rand.Rand) []string
}

// running counts the machines whose port files are there: the workers
// keep at most maxRunning running, on 2 cores.
func (c *chaos) running() int {
	n := 0
	for _, name := range c.all() {
		if c.exists(name, "port") {
			n++
		}
	}
	return n
}

const maxRunning = 2

func (c *chaos) all() []string { return append(c.content(), c.scratch()...) }

// exists tells whether a project (or a file in it) is there.
func (c *chaos) exists(name string, file ...string) bool {
	_, err := os.Stat(filepath.Join(append([]string{c.s.home, "projects", name}, file...)...))
	return err == nil
}

// pickFrom picks one of names: four times in five one that has file
// (a project, with no file; a running machine, with its port file), if
// any has, since most of what people run is on projects they have.
func (c *chaos) pickFrom(r *rand.Rand, names []string, file ...string) string {
	if r.Intn(5) > 0 {
		var there []string
		for _, name := range names {
			if c.exists(name, file...) {
				there = append(there, name)
			}
		}
		if len(there) > 0 {
			return there[r.Intn(len(there))]
		}
	}
	return names[r.Intn(len(names))]
}

func (c *chaos) anyName(r *rand.Rand) []string { return []string{c.pickFrom(r, c.all())} }

func (c *chaos) anyRunning(r *rand.Rand) []string { return []string{c.pickFrom(r, c.all(), "port")} }

var ops = []op{
	// 17: a kill of the machine's supervisor or QEMU while it started.
	{name: "virtdev-start", weight: 4, killWithin: time.Second, allowed: []int{0, 3, 7, 17, locked},
		args: func(c *chaos, r *rand.Rand) []string {
			if c.running() >= maxRunning {
				return nil
			}
			return c.anyName(r)
		}},
	// Rarer than starts: under emulation on a loaded host a guest needs
	// a minute or two to answer, and should often get it.
	{name: "virtdev-stop", weight: 1, killWithin: 10 * time.Second, allowed: []int{0, 3, 4, 10, 11, locked},
		args: (*chaos).anyRunning},
	{name: "virtdev-wait", weight: 2, killWithin: 20 * time.Second, allowed: []int{0, 3, 4, 5, 10, 12},
		args: (*chaos).anyRunning},
	// A line the guest writes and syncs; written down when ssh says so.
	{name: "virtdev-ssh", weight: 5, killWithin: 3 * time.Second, allowed: []int{0, 3, 4, 5, 255},
		args: func(c *chaos, r *rand.Rand) []string {
			name := c.pickFrom(r, c.content(), "port")
			return []string{name, "--", "echo " + c.token(r, name) + " >> /home/dev/chaos && sync"}
		}},
	{name: "virtdev-resume", weight: 1, killWithin: 2 * time.Second, allowed: []int{0, 3, 4, 11, locked},
		args: (*chaos).anyRunning},
	{name: "virtdev-move", weight: 2, killWithin: 100 * time.Millisecond, allowed: []int{0, 3, 5, 7, 10, locked},
		args: func(c *chaos, r *rand.Rand) []string {
			from := c.pickFrom(r, c.content())
			to := pick(r, slices.DeleteFunc(c.content(), func(n string) bool { return n == from }))
			return []string{from, to}
		}},
	{name: "virtdev-detach", weight: 1, killWithin: 20 * time.Second, allowed: []int{0, 3, 5, 7, 12, locked},
		args: func(c *chaos, r *rand.Rand) []string { return []string{"--yes", c.pickFrom(r, c.content())} }},
	{name: "virtdev-create", weight: 2, killWithin: 150 * time.Millisecond, allowed: []int{0, 10, locked},
		args: func(c *chaos, r *rand.Rand) []string { return []string{pick(r, c.scratch())} }},
	{name: "virtdev-destroy", weight: 2, killWithin: 100 * time.Millisecond, allowed: []int{0, 3, 5, 7, locked},
		args: func(c *chaos, r *rand.Rand) []string { return []string{"--yes", c.pickFrom(r, c.scratch())} }},
	// Not a program: QEMU or a machine's supervisor dies, as under the
	// OOM killer.
	{name: "kill-machine", weight: 1},
}

func pick(r *rand.Rand, names []string) string { return names[r.Intn(len(names))] }

// token is a line nobody else writes.
func (c *chaos) token(r *rand.Rand, name string) string {
	return fmt.Sprintf("%s-%d", name, r.Int63())
}

// run has workers do random operations until the time is up.
func (c *chaos) run(t *testing.T, duration time.Duration) {
	c.workers = 3
	deadline := time.Now().Add(duration)
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	var wg sync.WaitGroup
	for w := 0; w < c.workers; w++ {
		r := rand.New(rand.NewSource(c.seed + int64(w) + 1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				n := r.Intn(total)
				o := ops[0]
				for _, o = range ops {
					if n -= o.weight; n < 0 {
						break
					}
				}
				c.do(t, w, r, o)
			}
		}()
	}
	wg.Wait()
}

// do runs one operation, maybe killing it, and judges its exit code.
func (c *chaos) do(t *testing.T, worker int, r *rand.Rand, o op) {
	if o.name == "kill-machine" {
		c.killMachine(t, worker, r)
		return
	}
	args := o.args(c, r)
	if args == nil {
		return
	}
	var kill time.Duration
	if r.Intn(20) < 7 {
		kill = time.Duration(r.Int63n(int64(o.killWithin))) + 1
	}
	c.ops.Add(1)
	res := c.s.runKilled(5*time.Minute, kill, o.name, args...)
	line := fmt.Sprintf("worker %d: %s %s → exit %d in %s", worker, o.name, strings.Join(args, " "), res.code, res.took.Round(time.Millisecond))
	if res.killed {
		c.kills.Add(1)
		line += " (SIGKILL)"
	}
	t.Log(line)
	switch {
	case res.hung:
		t.Errorf("%s %s did not end within 5 minutes (seed %d):\n%s", o.name, strings.Join(args, " "), c.seed, res.stderr)
	case res.killed:
	case !slices.Contains(o.allowed, res.code):
		t.Errorf("%s %s exited %d under chaos, which says nothing this test expects (seed %d):\n%s", o.name, strings.Join(args, " "), res.code, c.seed, res.stderr)
	case o.name == "virtdev-ssh" && res.code == 0:
		token, _, _ := strings.Cut(strings.TrimPrefix(args[2], "echo "), " ")
		c.mu.Lock()
		c.written = append(c.written, token)
		c.mu.Unlock()
	}
}

// killMachine sends SIGKILL to the QEMU or the supervisor of a running
// machine, if one runs.
func (c *chaos) killMachine(t *testing.T, worker int, r *rand.Rand) {
	name := c.pickFrom(r, c.all(), "port")
	dir := filepath.Join(c.s.home, "projects", name)
	what := pick(r, []string{"QEMU", "the supervisor"})
	var pid int
	if what == "QEMU" {
		data, err := os.ReadFile(filepath.Join(dir, "qemu.pid"))
		if err != nil {
			return
		}
		pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	} else {
		out, err := exec.Command("systemctl", "--user", "show", "--property=MainPID", "--value", "virtdev-"+name+".service").Output()
		if err != nil {
			return
		}
		pid, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	if pid <= 0 || syscall.Kill(pid, syscall.SIGKILL) != nil {
		return
	}
	c.ops.Add(1)
	c.kills.Add(1)
	t.Logf("worker %d: SIGKILL to %s of %s (PID %d)", worker, what, name, pid)
}

// rightAfter checks what must hold at any moment, kills or not: a unit
// that runs has its port file, and a port file that outlived its machine
// (a start killed before its unit started) is reported as such.
func (c *chaos) rightAfter(t *testing.T) {
	for _, name := range c.all() {
		state := c.unitState(name)
		// A machine whose QEMU was killed may still be going down.
		for end := time.Now().Add(30 * time.Second); (state == "activating" || state == "deactivating") && time.Now().Before(end); {
			time.Sleep(time.Second)
			state = c.unitState(name)
		}
		port := c.exists(name, "port")
		var err error
		switch {
		case state == "active" && !port:
			err = fmt.Errorf("virtdev-%s.service is active, but %s has no port file", name, name)
		case state != "active" && port:
			if r := c.s.runQuiet(time.Minute, "virtdev-ssh", name, "true"); r.code != 5 || !strings.Contains(r.stderr, "is not running") {
				err = fmt.Errorf("the port file of %s outlived its unit (%s), and virtdev-ssh says: exit %d (want 5):\n%s", name, state, r.code, r.stderr)
			}
		}
		c.check(t, "a running unit has its port file; a port file without one is reported stale", err)
	}
}

// unitState is what systemd says of a machine's unit.
func (c *chaos) unitState(name string) string {
	out, _ := exec.Command("systemctl", "--user", "is-active", "virtdev-"+name+".service").Output()
	return strings.TrimSpace(string(out))
}

// settle lets the next program of each kind put right what the kills
// left: every machine is stopped (which removes a stale port file), every
// name goes through a move and back (which finishes or undoes interrupted
// moves, destroys and detaches of it), the scratch projects are destroyed,
// and a create and destroy of a new name sweeps what killed creates left.
func (c *chaos) settle(t *testing.T) {
	s := c.s.with("VIRTDEV_STOP_TIMEOUT=60")
	names := c.all()
	for _, name := range names {
		if c.exists(name, "port") {
			if r := s.runQuiet(3*time.Minute, "virtdev-stop", name); !slices.Contains([]int{0, 4, 10, 11}, r.code) {
				t.Errorf("settling: virtdev-stop %s: exit %d:\n%s", name, r.code, r.stderr)
			}
		}
	}
	for _, name := range names {
		aside := name + "-settle"
		r := s.runQuiet(3*time.Minute, "virtdev-move", name, aside)
		switch r.code {
		case 0:
			if back := s.runQuiet(3*time.Minute, "virtdev-move", aside, name); back.code != 0 {
				t.Errorf("settling: virtdev-move %s %s: exit %d:\n%s", aside, name, back.code, back.stderr)
			}
		case 3:
		default:
			t.Errorf("settling: virtdev-move %s %s: exit %d:\n%s", name, aside, r.code, r.stderr)
		}
		if r.stderr != "" {
			t.Logf("settling %s: %s", name, strings.TrimSpace(r.stderr))
		}
	}
	for _, name := range c.scratch() {
		if r := s.runQuiet(time.Minute, "virtdev-destroy", "--yes", name); r.code != 0 && r.code != 3 {
			t.Errorf("settling: virtdev-destroy %s: exit %d:\n%s", name, r.code, r.stderr)
		}
	}
	// A create sweeps what killed creates left, whoever's.
	sweeper := c.name("b", 9)
	if r := s.runQuiet(time.Minute, "virtdev-create", sweeper); r.code != 0 {
		t.Errorf("settling: virtdev-create %s: exit %d:\n%s", sweeper, r.code, r.stderr)
	}
	if r := s.runQuiet(time.Minute, "virtdev-destroy", "--yes", sweeper); r.code != 0 {
		t.Errorf("settling: virtdev-destroy %s: exit %d:\n%s", sweeper, r.code, r.stderr)
	}
}

// leftovers are the names that killed programs leave and that the next
// program removes: scratch directories of create, seal and the delta
// cache, the renames of destroy and detach, move's journals, the
// temporary files of atomic writes, SSH configurations of connections
// that are over, and runtime files of machines that do not run.
func leftover(path string, d fs.DirEntry) string {
	name := d.Name()
	switch {
	case strings.HasPrefix(name, ".create-"):
		return "a create's scratch directory"
	case strings.HasPrefix(name, ".sealing-"):
		return "a seal's scratch directory"
	case strings.HasPrefix(name, ".new-"):
		return "a delta template being made"
	case strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".destroying") || strings.HasSuffix(name, ".detaching") || strings.HasSuffix(name, ".attached")):
		return "a destroy's or detach's rename"
	case strings.Contains(name, ".tmp-"):
		return "an atomic write's temporary file"
	case strings.HasPrefix(name, "ssh_config."):
		return "an SSH configuration of a connection that is over"
	case strings.HasSuffix(name, ".move") && filepath.Base(filepath.Dir(path)) == "journals":
		return "a move's journal"
	case strings.HasSuffix(name, "-settle") && filepath.Base(filepath.Dir(path)) == "projects":
		return "a project moved aside while settling"
	}
	return ""
}

// invariants checks the state the settled installation is in.
func (c *chaos) invariants(t *testing.T) {
	// No leftovers anywhere in VIRTDEV_HOME or the cache, and no runtime
	// file of a machine that does not run (none runs now).
	for _, root := range []string{c.s.home, filepath.Join(c.s.root, "cache")} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if what := leftover(path, d); what != "" {
				c.check(t, "no leftovers", fmt.Errorf("%s: %s", what, path))
				if d.IsDir() {
					return fs.SkipDir
				}
			}
			return nil
		})
		c.checks.Add(1)
	}
	projects, _ := os.ReadDir(filepath.Join(c.s.home, "projects"))
	for _, p := range projects {
		dir := filepath.Join(c.s.home, "projects", p.Name())
		for _, runtime := range []string{"port", "monitor.sock", "console.sock", "events.sock", "qemu.pid", "up"} {
			_, err := os.Lstat(filepath.Join(dir, runtime))
			c.check(t, "no runtime file of a stopped machine", notThere(filepath.Join(dir, runtime), err))
		}
	}
	// No unit runs: every machine was stopped.
	for _, name := range c.all() {
		state := c.unitState(name)
		var err error
		if state == "active" || state == "activating" || state == "deactivating" {
			err = fmt.Errorf("virtdev-%s.service is %s, with no port file", name, state)
		}
		c.check(t, "no running unit without its port file", err)
	}
	// Every lock is free.
	locks, _ := filepath.Glob(filepath.Join(c.s.home, "locks", "*"))
	for _, path := range append(locks, filepath.Join(c.s.home, "lock"), filepath.Join(c.s.home, "locks", ".ports")) {
		c.check(t, "every lock is free", lockFree(path))
	}
}

func notThere(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("%s is there (%v)", path, err)
}

// lockFree takes a lock file's flock for a moment, as virtdev's programs
// do.
func lockFree(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("%s is held: %v", path, err)
	}
	return nil
}

// bootAll starts the content projects all at once, waits for them, finds
// every line their guests confirmed writing, and stops them all at once.
func (c *chaos) bootAll(t *testing.T) {
	var names []string
	for _, name := range c.content() {
		if c.exists(name) {
			names = append(names, name)
		}
	}
	c.check(t, "the content projects all survive", func() error {
		if len(names) != contentProjects {
			return fmt.Errorf("%d of them are there (%v), want %d: moves only rename", len(names), names, contentProjects)
		}
		return nil
	}())
	// Four guests booting at once on two cores take minutes.
	s := c.s.with("VIRTDEV_WAIT_TIMEOUT=600")
	booted := time.Now()
	ports := map[string]bool{}
	for i, r := range s.all(t, 2*time.Minute, "virtdev-start", names) {
		port := strings.TrimSpace(r.stdout)
		var err error
		switch {
		case r.code != 0:
			err = fmt.Errorf("virtdev-start %s: exit %d:\n%s", names[i], r.code, r.stderr)
		case ports[port]:
			err = fmt.Errorf("virtdev-start %s chose port %s, which another start at once chose too", names[i], port)
		}
		ports[port] = true
		c.check(t, "projects start at once", err)
	}
	for i, r := range s.all(t, 12*time.Minute, "virtdev-wait", names) {
		var err error
		if r.code != 0 {
			err = fmt.Errorf("virtdev-wait %s: exit %d:\n%s", names[i], r.code, r.stderr)
		}
		c.check(t, "every project boots and answers", err)
	}
	t.Logf("FIGURE boot to SSH of %d projects started at once: %s", len(names), time.Since(booted).Round(100*time.Millisecond))
	found := map[string]string{}
	for _, name := range names {
		r := c.s.runQuiet(time.Minute, "virtdev-ssh", name, "--", "hostname; cat /home/dev/chaos 2>/dev/null || true")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		var err error
		if r.code != 0 || lines[0] != name {
			err = fmt.Errorf("virtdev-ssh %s: exit %d, host name %q:\n%s", name, r.code, lines[0], r.stderr)
		}
		c.check(t, "every project answers under its own name", err)
		for _, line := range lines[1:] {
			found[line] = name
		}
	}
	for _, token := range c.written {
		var err error
		if _, ok := found[token]; !ok {
			err = fmt.Errorf("%q, which a guest confirmed writing, is in no project", token)
		}
		c.check(t, "nothing written is lost", err)
	}
	t.Logf("%d lines written under chaos, all checked", len(c.written))
	for i, r := range c.s.all(t, 3*time.Minute, "virtdev-stop", names) {
		var err error
		if r.code != 0 || strings.TrimSpace(r.stdout) != "clean" {
			err = fmt.Errorf("virtdev-stop %s: exit %d, stdout %q:\n%s", names[i], r.code, r.stdout, r.stderr)
		}
		c.check(t, "projects stop cleanly at once", err)
	}
}
