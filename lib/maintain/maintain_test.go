package maintain

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"virtdev/lib/config"
	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/runstate"
	"virtdev/lib/testhost"
	"virtdev/lib/unit"
)

// fakeUnits is a user manager in which the named units run.
type fakeUnits struct {
	running  map[string]bool
	commands map[string][][]string
}

func (f *fakeUnits) Status(_ context.Context, name string) (unit.Status, error) {
	if f.running[name] {
		return unit.Status{LoadState: "loaded", ActiveState: "active"}, nil
	}
	return unit.Status{LoadState: "not-found", ActiveState: "inactive"}, nil
}

func (f *fakeUnits) WaitDown(ctx context.Context, name string) (unit.Status, error) {
	return f.Status(ctx, name)
}

func (f *fakeUnits) StartTransient(context.Context, string, unit.Transient) error {
	return errors.New("the fake starts nothing")
}

func (f *fakeUnits) ResetFailed(context.Context, string) error { return nil }

func (f *fakeUnits) Kill(context.Context, string, syscall.Signal) error { return nil }

func (f *fakeUnits) Running(_ context.Context, pattern string) ([]string, error) {
	var names []string
	for name, on := range f.running {
		if ok, _ := filepath.Match(pattern, name); ok && on {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func (f *fakeUnits) Commands(_ context.Context, name string) ([][]string, error) {
	return f.commands[name], nil
}

func testSession(t *testing.T, getenv map[string]string) *Session {
	t.Helper()
	root := t.TempDir()
	env := map[string]string{"HOME": root, "VIRTDEV_HOME": filepath.Join(root, "data"), "VIRTDEV_CACHE": filepath.Join(root, "cache")}
	for k, v := range getenv {
		env[k] = v
	}
	c, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	quiet := func(string, ...any) {}
	return &Session{
		Layout: layout.New(c), Config: c, Units: &fakeUnits{},
		Stagef: quiet, Infof: quiet, Warnf: quiet,
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRefusals(t *testing.T) {
	s := testSession(t, nil)
	l := s.Layout
	units := s.Units.(*fakeUnits)
	ctx := context.Background()
	if err := s.refuse(ctx); err != nil {
		t.Fatalf("nothing runs and no staging directory: %v", err)
	}

	write(t, l.Project("web").Generation, "1\n")
	write(t, l.Project("api").Generation, "1\n")
	units.running = map[string]bool{"virtdev-web.service": true, "virtdev-other.service": true, "virtdev-gone.service": true}
	units.commands = map[string][][]string{
		"virtdev-other.service": {{"/usr/bin/virtdev-supervise", "--", "qemu", "file=/elsewhere/projects/other/system.qcow2"}},
		"virtdev-gone.service":  {{"/usr/bin/virtdev-supervise", "--", "qemu", "file=" + l.Project("gone").SystemImage}},
	}
	err := s.refuse(ctx)
	var running *RunningError
	if !errors.As(err, &running) || exitcode.For(err) != exitcode.Running.N {
		t.Fatalf("machines run: %v, want a *RunningError with the shared code", err)
	}
	if !slices.Equal(running.Machines, []string{"web"}) || !slices.Equal(running.Units, []string{"virtdev-gone.service"}) {
		t.Errorf("running machines %q and units %q; want web, and the unit of a removed project of this home (not another home's)", running.Machines, running.Units)
	}
	for _, want := range []string{"virtdev-stop web", "systemctl --user stop virtdev-gone.service"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q:\n%v", want, err)
		}
	}

	write(t, filepath.Join(l.Staging().Dir, "system.qcow2"), "")
	var staging *StagingError
	if err := s.refuse(ctx); !errors.As(err, &staging) || !strings.Contains(err.Error(), "rm -rf "+l.Staging().Dir) {
		t.Errorf("a staging directory: %v, want a *StagingError that says how to remove it", err)
	}

	units.running[layout.Unit(layout.Maintenance)] = true
	var orphan *OrphanError
	if err := s.refuse(ctx); !errors.As(err, &orphan) || !strings.Contains(err.Error(), "virtdev-stop maintenance") {
		t.Errorf("a maintenance machine runs: %v, want an *OrphanError that says how to stop it", err)
	}
}

func TestHooks(t *testing.T) {
	s := testSession(t, nil)
	hooks, err := s.findHooks()
	if err != nil || len(hooks.provision) != 0 || hooks.inventory != nil {
		t.Fatalf("no hooks: %+v, %v", hooks, err)
	}
	l := s.Layout
	write(t, l.MaintenanceHook("provision"), "echo provision")
	write(t, l.MaintenanceHook("inventory"), "dpkg -l")
	script := filepath.Join(t.TempDir(), "script")
	write(t, script, "apt-get -y upgrade")

	s = testSession(t, map[string]string{"VIRTDEV_SCRIPT": script, "XDG_CONFIG_HOME": filepath.Dir(l.ConfigDir)})
	hooks, err = s.findHooks()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hooks.provision {
		got = append(got, h.name+":"+string(h.text)+":"+map[bool]string{true: "root", false: "dev"}[h.asRoot])
	}
	if want := []string{"VIRTDEV_SCRIPT:apt-get -y upgrade:root", "provision:echo provision:dev"}; !slices.Equal(got, want) {
		t.Errorf("provision hooks %q, want %q", got, want)
	}
	if hooks.inventory == nil || string(hooks.inventory.text) != "dpkg -l" {
		t.Errorf("inventory hook %+v, want the configuration's", hooks.inventory)
	}

	s.NoProvision, s.NoInventory = true, true
	if hooks, err := s.findHooks(); err != nil || len(hooks.provision) != 0 || hooks.inventory != nil {
		t.Errorf("--no-provision --no-inventory: %+v, %v", hooks, err)
	}

	s = testSession(t, map[string]string{"VIRTDEV_INVENTORY": filepath.Join(t.TempDir(), "missing")})
	var hookErr *HookError
	if _, err := s.findHooks(); !errors.As(err, &hookErr) || hookErr.Hook != "inventory" {
		t.Errorf("VIRTDEV_INVENTORY names a missing file: %v, want a *HookError", err)
	}
	s = testSession(t, map[string]string{"VIRTDEV_SCRIPT": t.TempDir()})
	if _, err := s.findHooks(); !errors.As(err, &hookErr) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("VIRTDEV_SCRIPT names a directory: %v", err)
	}
}

func TestNextGeneration(t *testing.T) {
	s := testSession(t, nil)
	if g, err := s.nextGeneration(project.Generation{Number: 3}); err != nil || g.Number != 4 {
		t.Errorf("no projects: %v, %v; want 4", g, err)
	}
	write(t, s.Layout.Project("old").Generation, "7\n")
	write(t, s.Layout.Project("free").Generation, "detached\n")
	if g, err := s.nextGeneration(project.Generation{Number: 3}); err != nil || g.Number != 8 {
		t.Errorf("a project records 7: %v, %v; want 8, above it", g, err)
	}
	if _, err := s.nextGeneration(project.Generation{Number: project.MaxGeneration}); err == nil {
		t.Error("a base at the last generation got a next one")
	}
}

func TestOutdated(t *testing.T) {
	s := testSession(t, nil)
	l := s.Layout
	write(t, l.Project("a").Generation, "3\n")
	write(t, l.Project("b").Generation, "4\n")
	write(t, l.Project("c").Generation, "detached\n")
	got, err := Outdated(l, project.Generation{Number: 4})
	if err != nil || !slices.Equal(got, []string{"a"}) {
		t.Errorf("Outdated: %q, %v; want a", got, err)
	}
}

func TestCopyBase(t *testing.T) {
	s := testSession(t, nil)
	l := s.Layout
	sys := l.System()
	for _, f := range []string{sys.SystemImage, sys.HomeImage, sys.NVRAM} {
		write(t, f, "content of "+filepath.Base(f))
		os.Chmod(f, 0o444)
	}
	if err := s.copyBase(context.Background()); err != nil {
		t.Fatal(err)
	}
	staging := l.Staging()
	for _, f := range []string{staging.SystemImage, staging.HomeImage, staging.NVRAM} {
		data, err := os.ReadFile(f)
		if err != nil || string(data) != "content of "+filepath.Base(f) {
			t.Errorf("%s: %q, %v", f, data, err)
		}
		if info, _ := os.Stat(f); info.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %04o, want 0644: the machine writes to it", f, info.Mode().Perm())
		}
	}
	if entries, _ := filepath.Glob(filepath.Join(l.Home, stagingPrefix+"*")); len(entries) != 0 {
		t.Errorf("the copy left %q", entries)
	}

	// A copy cut short is removed by the next session.
	os.RemoveAll(staging.Dir)
	os.Remove(sys.NVRAM)
	if err := s.copyBase(context.Background()); err == nil {
		t.Fatal("copying a base without nvram succeeded")
	}
	if _, err := os.Lstat(staging.Dir); err == nil {
		t.Error("a failed copy left the staging directory")
	}
	write(t, filepath.Join(l.Home, stagingPrefix+"x", "system.qcow2"), "")
	s.sweepCopies()
	if entries, _ := filepath.Glob(filepath.Join(l.Home, stagingPrefix+"*")); len(entries) != 0 {
		t.Errorf("sweepCopies left %q", entries)
	}
}

// TestEnding classifies how the machine ended from the supervisor's record
// and from virtdev-stop's lock.
func TestEnding(t *testing.T) {
	s := testSession(t, map[string]string{"VIRTDEV_STOP_TIMEOUT": "1"})
	l := s.Layout
	m := l.Machine(layout.Maintenance)
	begin := time.Now()
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	clean := runstate.Shutdown{How: runstate.Clean, Guest: true, Reason: "guest-shutdown", Time: begin.Add(time.Second)}
	forced := runstate.Shutdown{How: runstate.Forced, Reason: "host-signal", Time: begin.Add(time.Second)}
	pressed := clean
	pressed.Presses = 1
	for _, c := range []struct {
		name    string
		record  *runstate.Shutdown
		stopped bool // virtdev-stop holds the lock when the machine is down
		want    End
	}{
		{"clean", &clean, false, 0},
		{"forced", &forced, false, Forced},
		{"no record", nil, false, Crashed},
		{"clean after virtdev-stop pressed", &pressed, false, Aborted},
		{"clean while virtdev-stop runs", &clean, true, Aborted},
		{"a record of an earlier run", &runstate.Shutdown{How: runstate.Clean, Guest: true, Time: begin.Add(-time.Hour)}, false, Crashed},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(m.Shutdown)
			if c.record != nil {
				if err := runstate.WriteShutdown(m.Shutdown, *c.record); err != nil {
					t.Fatal(err)
				}
			}
			if c.stopped {
				held, err := lock.Project(l, layout.Maintenance, "virtdev-stop")
				if err != nil {
					t.Fatal(err)
				}
				time.AfterFunc(300*time.Millisecond, held.Release)
			}
			r := &running{Session: s, m: m, begin: begin}
			defer r.close()
			err := r.ending(context.Background(), false)
			var end *EndError
			switch {
			case c.want == 0 && err != nil:
				t.Errorf("ending: %v, want none", err)
			case c.want != 0 && (!errors.As(err, &end) || end.End != c.want):
				t.Errorf("ending: %v, want an *EndError of kind %d", err, c.want)
			case c.want != 0 && !strings.Contains(err.Error(), "rm -rf "+m.Dir):
				t.Errorf("the message does not say how to remove the staging directory:\n%v", err)
			}
			if r.stopLock == nil {
				t.Error("ending does not hold the maintenance machine's lock afterwards")
			}
		})
	}
}

func TestParseReport(t *testing.T) {
	const nonce = "n0"
	say := func(words string) string { return reportWord + " " + nonce + " " + words + "\n" }
	full := say("inventory-begin") + "pkg 1\npkg 2" + say("inventory-end 0") + say("sealed")
	r := parseReport([]byte(full), nonce)
	if !r.sealed || !r.hasInventory || string(r.inventory) != "pkg 1\npkg 2" || r.inventoryStatus != 0 {
		t.Errorf("a whole report: %+v", r)
	}
	r = parseReport([]byte(say("inventory-begin")+"x\n"+say("inventory-end 3")), nonce)
	if r.sealed || r.inventoryStatus != 3 || string(r.inventory) != "x\n" {
		t.Errorf("a seal that did not finish: %+v", r)
	}
	for _, report := range []string{"", reportWord + " other sealed\n", say("sealed") + "more\n"} {
		if parseReport([]byte(report), nonce).sealed {
			t.Errorf("%q counts as sealed", report)
		}
	}
	if r := parseReport([]byte(say("sealed")), nonce); !r.sealed || r.hasInventory {
		t.Errorf("a seal without inventory: %+v", r)
	}
}

// TestGuestScripts holds every shell text the session sends to the guest
// to shellcheck, as the guest's sh and dev's bash read them.
func TestGuestScripts(t *testing.T) {
	shellcheck := testhost.Tool(t, "shellcheck", "shellcheck")
	for name, text := range map[string]string{
		"arm":                   armScript("n0", []byte("#!/bin/sh\ndpkg -l\n")),
		"arm without inventory": armScript("n0", nil),
		"seal":                  sealText("n0"),
		"run-inventory":         runInventory,
		"hook as dev":           hookCommand(false),
		"hook as root":          hookCommand(true),
		"inventory before":      inventoryCommand,
	} {
		shell := "sh"
		if strings.HasPrefix(name, "hook") {
			shell = "bash"
		}
		cmd := exec.Command(shellcheck, "--shell="+shell, "-")
		cmd.Stdin = strings.NewReader(text)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s\n%s", name, err, out.String(), text)
		}
	}
	if strings.Contains(armScript("n0", nil), "run-inventory") {
		t.Error("the seal is armed with an inventory nobody asked for")
	}
}

// TestSealRemovesHostKeys: the seal removes what makes one machine, then
// reports; the end-to-end suite runs it in a real guest.
func TestSealRemovesHostKeys(t *testing.T) {
	seal := sealText("n0")
	for _, want := range []string{"rm -f /etc/ssh/ssh_host_*", "cat " + sealDir + "/machine-id >/etc/machine-id", "rm -rf " + sealDir, "say sealed"} {
		if !strings.Contains(seal, want) {
			t.Errorf("the seal does not %q", want)
		}
	}
	if i, j := strings.Index(seal, "rm -f /etc/ssh/ssh_host_*"), strings.Index(seal, "say sealed"); i > j {
		t.Error("the seal reports before it removes the host keys")
	}
}
