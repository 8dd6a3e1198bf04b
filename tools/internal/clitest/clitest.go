// Package clitest runs a program's testscript files (testdata/*.txtar) with
// the program linked in, in a clean environment: HOME is the script's work
// directory and no VIRTDEV_*, XDG_* or colour variable leaks in from the
// developer's shell.
//
// Every exit status a script sees from a declared program must be in that
// program's exit-code table (lib/cli Command.Codes): a code the program can
// return without declaring it fails the test.
//
// Scripts that need a host tool guard on [tool:NAME] rather than
// [exec:NAME]: when NAME is missing and the environment variable CI is set,
// the condition fails the script instead of letting it skip, so that a
// broken CI setup cannot pass with the tests it guards skipped. [root] says
// the tests run as root, whom no file permission stops.
//
// Besides exits, scripts have userbus (the calling user's systemd user
// manager, guarded by [userbus]) and machine (a stand-in for a running
// machine under it: see machine.go).
package clitest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"virtdev/lib/cli"
	"virtdev/tools/internal/docs"
)

// Main registers the commands a test binary can run as programs named after
// them; call it from TestMain.
func Main(m *testing.M, commands ...cli.Command) {
	programs := map[string]func(){}
	for _, c := range commands {
		programs[c.Name] = func() { cli.Main(c) }
	}
	testscript.Main(m, programs)
}

// Run runs every script in dir. commands are the programs whose exit codes
// the scripts' exits lines check against their tables, and whose man pages
// and completions must follow their declarations.
func Run(t *testing.T, dir string, commands ...cli.Command) {
	declared := map[string]cli.Command{}
	for _, c := range commands {
		declared[c.Name] = c
	}
	testscript.Run(t, testscript.Params{
		Dir:       dir,
		Setup:     Setup,
		Condition: condition,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"exits":   func(ts *testscript.TestScript, neg bool, args []string) { exits(ts, neg, args, declared) },
			"userbus": userbus,
			"machine": machine,
		},
	})
	// The man page and the completions follow the declaration.
	t.Run("docs", func(t *testing.T) {
		for _, c := range commands {
			docs.Check(t, c)
		}
	})
}

// exits N CMD ARGS... runs CMD like exec and fails unless it exits with
// status N, so that every documented exit code is pinned by a script; N must
// be in CMD's table when CMD is a declared program.
func exits(ts *testscript.TestScript, neg bool, args []string, declared map[string]cli.Command) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit status", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("exits: %v", err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
	if c, ok := declared[args[1]]; ok && !c.PassThrough && !c.Declares(got) {
		ts.Fatalf("%s exited with status %d, which its exit-code table does not declare", args[1], got)
	}
}

// condition is [tool:NAME]: NAME is on PATH, a missing tool being an error,
// not false, when CI is set; [userbus]: the calling user has a systemd user
// manager (see userbus), its absence an error in CI too, which runs one
// (.ci/user-session); and [root].
func condition(cond string) (bool, error) {
	switch cond {
	case "root":
		return os.Geteuid() == 0, nil
	case "userbus":
		if userBus() != "" {
			return true, nil
		}
		if os.Getenv("CI") != "" {
			return false, fmt.Errorf("there is no systemd user manager on a user bus, and CI is set: CI runs one (.ci/user-session)")
		}
		return false, nil
	}
	name, ok := strings.CutPrefix(cond, "tool:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := exec.LookPath(name); err == nil {
		return true, nil
	}
	if os.Getenv("CI") != "" {
		return false, fmt.Errorf("%s is not installed, and CI is set: in CI a missing tool fails the tests instead of skipping them (.ci/packages lists what to install)", name)
	}
	return false, nil
}

// userBus is the address of the calling user's bus when a systemd user
// manager answers on it.
func userBus() string {
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if runtime := os.Getenv("XDG_RUNTIME_DIR"); bus == "" && runtime != "" {
		if _, err := os.Stat(filepath.Join(runtime, "bus")); err == nil {
			bus = "unix:path=" + filepath.Join(runtime, "bus")
		}
	}
	if bus == "" {
		return ""
	}
	cmd := exec.Command("systemctl", "--user", "is-system-running")
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+bus)
	out, _ := cmd.Output()
	// Degraded (a unit failed somewhere) is a manager that answers.
	switch strings.TrimSpace(string(out)) {
	case "running", "degraded":
		return bus
	}
	return ""
}

// userbus hands the script the calling user's bus, for programs that ask
// the systemd user manager whether a machine runs (scripts without it have
// no bus at all: that is how they see exit 82), and sets RUNID, a string
// no other run shares, for the names of units the script starts under
// that shared manager. Guard it with [userbus].
func userbus(ts *testscript.TestScript, neg bool, args []string) {
	bus := userBus()
	if neg || len(args) != 0 || bus == "" {
		ts.Fatalf("usage: [userbus] userbus")
	}
	ts.Setenv("XDG_RUNTIME_DIR", os.Getenv("XDG_RUNTIME_DIR"))
	ts.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)
	ts.Setenv("RUNID", fmt.Sprintf("%d-%d", os.Getpid(), runs.Add(1)))
}

var runs atomic.Int64

// Setup gives each script a private home and a predictable environment.
func Setup(env *testscript.Env) error {
	home := env.WorkDir + "/home"
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	env.Setenv("HOME", home)
	env.Setenv("VIRTDEV_HOME", home+"/.local/share/virtdev")
	env.Setenv("XDG_CONFIG_HOME", home+"/.config")
	env.Setenv("TERM", "xterm-256color")
	for _, name := range []string{
		"NO_COLOR", "XDG_DATA_HOME", "XDG_CACHE_HOME",
		"VIRTDEV_SSH_KEY", "VIRTDEV_CACHE", "VIRTDEV_ACCEL", "VIRTDEV_CPU", "VIRTDEV_DNS",
		"VIRTDEV_VM_MEMORY", "VIRTDEV_VM_CPUS", "VIRTDEV_STOP_TIMEOUT", "VIRTDEV_WAIT_TIMEOUT",
		"VIRTDEV_SYSTEM_DISK_SIZE", "VIRTDEV_HOME_DISK_SIZE", "VIRTDEV_PACKAGES", "VIRTDEV_SCRIPT",
		"VIRTDEV_TIMEZONE", "VIRTDEV_LOCALE", "VIRTDEV_KEYMAP", "VIRTDEV_INVENTORY",
		"VIRTDEV_ISO", "VIRTDEV_ISO_PROFILE", "VIRTDEV_MIN_FREE", "VIRTDEV_MAINTENANCE_NET", "OVMF_CODE", "OVMF_VARS",
	} {
		env.Setenv(name, "")
	}
	return nil
}
