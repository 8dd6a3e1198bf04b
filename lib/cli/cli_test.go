package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
	"virtdev/lib/term"
)

type options struct {
	Verbose bool   `short:"v" long:"verbose" description:"say more"`
	Name    string `long:"name" value-name:"NAME" description:"a name"`
}

// run is one Execute of a test command: its exit status, output, and what
// Run saw.
type run struct {
	code           int
	stdout, stderr string
	args           []string
	opts           options
	env            *cli.Env
}

func execute(t *testing.T, c cli.Command, vars map[string]string, args ...string) run {
	t.Helper()
	var r run
	var stdout, stderr strings.Builder
	body := c.Run
	c.Options = &r.opts
	c.Run = func(env *cli.Env, args []string) error {
		r.args, r.env = args, env
		if body == nil {
			return nil
		}
		return body(env, args)
	}
	env := &cli.Env{
		Name:   c.Name,
		Stdin:  strings.NewReader(""),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(name string) string { return vars[name] },
	}
	r.code = c.Execute(env, args, nil)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	return r
}

var plainEnv = map[string]string{"HOME": "/home/u"}

func command(run func(*cli.Env, []string) error) cli.Command {
	return cli.Command{
		Name:    "virtdev-test",
		Summary: "Do a test thing.",
		Description: `Resources:
  data    the directory
  port    the port`,
		Args:  []cli.Arg{{Name: "project", Kind: cli.ArgProject}, {Name: "resource", Kind: cli.ArgResource, Optional: true, Values: []string{"data", "port"}}},
		Codes: []exitcode.Code{{N: 0, Meaning: "done"}, {N: 7, Meaning: "seven"}, exitcode.NotFound},
		Run:   run,
	}
}

func TestHelp(t *testing.T) {
	for _, flag := range []string{"--help", "-h"} {
		c := command(func(*cli.Env, []string) error { t.Error("Run called for --help"); return nil })
		c.Epilogue = func() string { return "Verbs:\n  start\n" }
		r := execute(t, c, plainEnv, "p", flag, "--color=no")
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s: exit %d, stderr %q", flag, r.code, r.stderr)
		}
		for _, want := range []string{
			"Usage: virtdev-test [OPTIONS] <project> [resource]\n\nDo a test thing.\n",
			"\n  data    the directory\n  port    the port\n", // indentation kept
			"Exit codes:\n  0   done\n  1   an unexpected failure that no other code describes\n  3   project not found\n  7   seven\n  64  usage error\n  130 interrupted",
			"--verbose", "--name=NAME", "--color=WHEN", "yes, no or auto",
			"\nVerbs:\n  start\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s: help lacks %q:\n%s", flag, want, r.stdout)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown long flag", []string{"p", "--bogus"}, "unknown flag `bogus'"},
		{"unknown short flag", []string{"-x", "p"}, "unknown flag `x'"},
		{"bad colour", []string{"--color=bogus", "p"}, "bogus"},
		{"empty colour", []string{"--color=", "p"}, "--color"},
		{"missing value", []string{"p", "--name"}, "expected argument for flag `--name'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"HOME": "/home/u", "TERM": "xterm-256color"}
			r := execute(t, command(func(*cli.Env, []string) error { t.Error("Run called"); return nil }), vars, tc.args...)
			if r.code != exitcode.Usage.N || r.stdout != "" {
				t.Errorf("exit %d, stdout %q; want 64 and nothing", r.code, r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "virtdev-test: ") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, r.stderr)
			}
			if !strings.HasSuffix(r.stderr, "usage: virtdev-test [OPTIONS] <project> [resource]\nRun 'virtdev-test --help' for details.\n") {
				t.Errorf("stderr does not end in the usage line:\n%s", r.stderr)
			}
			// Not a terminal and no --color=yes: no escape sequences, even
			// for a --color value that is not yes.
			if strings.Contains(r.stderr, "\x1b") {
				t.Errorf("stderr is painted: %q", r.stderr)
			}
		})
	}
}

func TestUsageLineWithoutSynopsis(t *testing.T) {
	c := command(func(*cli.Env, []string) error { return cli.Usage("unexpected argument") })
	c.Args = nil
	r := execute(t, c, plainEnv)
	if want := "virtdev-test: unexpected argument\nusage: virtdev-test [OPTIONS]\nRun 'virtdev-test --help' for details.\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

func TestInterleaving(t *testing.T) {
	for _, tc := range []struct {
		name        string
		passThrough bool
		args        []string
		want        []string
		opts        options
	}{
		{"flags between positionals", false, []string{"a", "--name=x", "b", "-v"}, []string{"a", "b"}, options{Verbose: true, Name: "x"}},
		{"separate value", false, []string{"--name", "x", "a"}, []string{"a"}, options{Name: "x"}},
		{"double dash ends flags", false, []string{"-v", "--", "-v", "--help"}, []string{"-v", "--help"}, options{Verbose: true}},
		{"colour among positionals", false, []string{"a", "--color=no", "b"}, []string{"a", "b"}, options{}},
		{"pass-through stops at the first positional", true, []string{"-v", "ssh", "-v", "--name=x"}, []string{"ssh", "-v", "--name=x"}, options{Verbose: true}},
		{"pass-through double dash", true, []string{"--", "-v"}, []string{"-v"}, options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := command(nil)
			c.PassThrough = tc.passThrough
			if tc.passThrough {
				c.Args = []cli.Arg{{Name: "project", Kind: cli.ArgProject}, {Name: "rest", Kind: cli.ArgSSH, Optional: true, Repeat: true}}
			}
			r := execute(t, c, plainEnv, tc.args...)
			if r.code != 0 || r.stdout != "" || r.stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if !slices.Equal(r.args, tc.want) || r.opts != tc.opts {
				t.Errorf("Run got %q %+v, want %q %+v", r.args, r.opts, tc.want, tc.opts)
			}
		})
	}
}

func TestErrorsBecomeExitCodes(t *testing.T) {
	cause := fs.ErrPermission
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		err    error
		ctx    context.Context
		code   int
		stderr string
	}{
		{"coded", cli.Errorf(7, "first line %d\nsecond line\nthird", 1), nil, 7,
			"virtdev-test: first line 1\nsecond line\nthird\n"},
		{"wrapped", cli.Wrap(9, cause, "cannot write %s", "/x"), nil, 9,
			"virtdev-test: cannot write /x: permission denied\n"},
		{"coded inside fmt wrapping", fmt.Errorf("context: %w", cli.Errorf(5, "inner")), nil, 5,
			"virtdev-test: inner\n"},
		{"plain", errors.New("something broke"), nil, 1, "virtdev-test: something broke\n"},
		{"plain multi-line", errors.New("broke\nhint"), nil, 1, "virtdev-test: broke\nhint\n"},
		{"interrupted", fmt.Errorf("waiting: %w", context.Canceled), cancelled, 130, "virtdev-test: interrupted\n"},
		{"cancelled, not by a signal", context.Canceled, nil, 1, "virtdev-test: context canceled\n"},
		{"usage from Run", cli.Usage("unexpected argument %q", "x"), nil, 64,
			"virtdev-test: unexpected argument \"x\"\nusage: virtdev-test [OPTIONS] <project> [resource]\nRun 'virtdev-test --help' for details.\n"},
		{"silent exit", cli.Exit(42), nil, 42, ""},
		{"shared code from lib", fmt.Errorf("starting: %w", exitcode.New(exitcode.NotFound, "project %q not found", "p")), nil, 3,
			"virtdev-test: starting: project \"p\" not found\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := command(func(*cli.Env, []string) error { return tc.err })
			var stdout, stderr strings.Builder
			env := &cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Ctx: tc.ctx}
			if code := c.Execute(env, []string{"p"}, nil); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if stderr.String() != tc.stderr || stdout.Len() != 0 {
				t.Errorf("stderr %q, stdout %q; want stderr %q", stderr.String(), stdout.String(), tc.stderr)
			}
		})
	}
}

func TestWrapKeepsCause(t *testing.T) {
	err := cli.Wrap(3, fs.ErrNotExist, "no %s", "thing")
	if !errors.Is(err, fs.ErrNotExist) || err.Code != 3 || err.Error() != "no thing: file does not exist" {
		t.Errorf("Wrap = %v (code %d)", err, err.Code)
	}
}

func TestColour(t *testing.T) {
	vars := map[string]string{"HOME": "/home/u", "TERM": "xterm-256color"}
	want := term.NewPalette(term.ModeYes, nil, func(n string) string { return vars[n] })
	if !want.Enabled() {
		t.Skip("no xterm-256color terminfo entry on this host")
	}
	fail := func(*cli.Env, []string) error { return errors.New("boom") }
	painted := "virtdev-test: " + want.Paint("boom", term.Red, true) + "\n"
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--color=yes"}, painted},
		{[]string{"--color"}, painted},
		{[]string{"--color=no"}, "virtdev-test: boom\n"},
		{[]string{"--color=auto"}, "virtdev-test: boom\n"}, // stderr is no terminal
		{nil, "virtdev-test: boom\n"},
		{[]string{"--color=yes", "--color=no"}, "virtdev-test: boom\n"},
		{[]string{"--", "--color=yes"}, "virtdev-test: boom\n"},
	} {
		r := execute(t, command(fail), vars, append(tc.args, "p")...)
		if r.code != 1 || r.stderr != tc.stderr {
			t.Errorf("%q: exit %d, stderr %q, want %q", tc.args, r.code, r.stderr, tc.stderr)
		}
	}
	// A usage error is painted as asked too.
	r := execute(t, command(fail), vars, "--color=yes", "--bogus")
	if r.code != 64 || !strings.Contains(r.stderr, "\x1b") {
		t.Errorf("usage error with --color=yes: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestMessages(t *testing.T) {
	r := execute(t, command(func(env *cli.Env, _ []string) error {
		env.Infof("copying %d files", 3)
		env.Stagef("Stage %d", 1)
		env.Warnf("lingering is off for %s", "u")
		return nil
	}), plainEnv, "--color=no", "p")
	want := "copying 3 files\n==> Stage 1\nwarning: lingering is off for u\n"
	if r.code != 0 || r.stdout != "" || r.stderr != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want stderr %q", r.code, r.stdout, r.stderr, want)
	}
}

func TestConfig(t *testing.T) {
	r := execute(t, command(func(env *cli.Env, _ []string) error {
		c, err := env.Config()
		if err != nil {
			return err
		}
		again, _ := env.Config()
		if again != c {
			t.Error("Config is loaded twice")
		}
		l, err := env.Layout()
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, l.Home)
		return nil
	}), map[string]string{"HOME": "/home/u"}, "p")
	if r.code != 0 || r.stdout != "/home/u/.local/share/virtdev\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = execute(t, command(func(env *cli.Env, _ []string) error {
		_, err := env.Layout()
		return err
	}), map[string]string{"HOME": "/home/u", "VIRTDEV_VM_MEMORY": "4G"}, "p")
	if r.code != exitcode.Config.N || !strings.Contains(r.stderr, `VIRTDEV_VM_MEMORY="4G" is not valid`) || r.stdout != "" {
		t.Errorf("malformed variable: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// Execute fills in what a caller left out, so tests and programs can build
// an Env by hand.
func TestExecuteDefaults(t *testing.T) {
	r := execute(t, command(nil), plainEnv, "p")
	if r.env.Ctx == nil || r.env.Prompt == nil || r.env.Palette == nil {
		t.Errorf("Env after Execute: Ctx %v, Prompt %v, Palette %v", r.env.Ctx, r.env.Prompt, r.env.Palette)
	}
	if _, err := r.env.Prompt.YesNo("?"); err == nil {
		t.Error("the default prompter is interactive")
	}
}

// mainEnv makes the test binary run cli.Main for a command that interrupts
// itself, as a query or not, depending on the variable's value.
const mainEnv = "VIRTDEV_CLI_TEST_MAIN"

func TestMain(m *testing.M) {
	if mode := os.Getenv(mainEnv); mode != "" {
		cli.Main(cli.Command{
			Name:  "virtdev-test",
			Query: mode == "query",
			Run: func(env *cli.Env, _ []string) error {
				syscall.Kill(os.Getpid(), syscall.SIGINT)
				<-env.Ctx.Done()
				return env.Ctx.Err()
			},
		})
	}
	os.Exit(m.Run())
}

func runMain(t *testing.T, mode string) (*exec.ExitError, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), mainEnv+"="+mode)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("Main (%s) = %v, want an exit status", mode, err)
	}
	return exit, stderr.String()
}

// A program is told of an interrupt through its context and ends with 130
// after saying so.
func TestMainInterrupted(t *testing.T) {
	exit, stderr := runMain(t, "program")
	if exit.ExitCode() != exitcode.Interrupted.N || stderr != "virtdev-test: interrupted\n" {
		t.Errorf("exit %v, stderr %q; want 130 and the interruption reported", exit, stderr)
	}
}

// A query does not catch the interrupt: it ends at once, by the signal.
func TestMainQueryInterrupted(t *testing.T) {
	exit, stderr := runMain(t, "query")
	status, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() || status.Signal() != syscall.SIGINT || stderr != "" {
		t.Errorf("exit %v, stderr %q; want death by SIGINT", exit, stderr)
	}
}

// The frame holds the positionals to the declaration before Run sees them.
func TestDeclaredArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" when accepted
	}{
		{[]string{"p"}, ""},
		{[]string{"p", "port"}, ""},
		{nil, "missing argument: <project>"},
		{[]string{"p", "port", "x"}, `unexpected argument "x"`},
	} {
		r := execute(t, command(nil), plainEnv, tc.args...)
		switch {
		case tc.want == "" && r.code != 0:
			t.Errorf("%q: exit %d, stderr %q", tc.args, r.code, r.stderr)
		case tc.want != "" && (r.code != exitcode.Usage.N || !strings.Contains(r.stderr, tc.want)):
			t.Errorf("%q: exit %d, stderr %q; want 64 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	c := command(nil)
	c.Args = []cli.Arg{{Name: "project", Kind: cli.ArgProject, Optional: true, Repeat: true}}
	if r := execute(t, c, plainEnv, "a", "b", "c"); r.code != 0 {
		t.Errorf("a repeated argument: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := c.Synopsis(); got != "[project...]" {
		t.Errorf("Synopsis = %q", got)
	}
}

// A result that cannot be written is a failure with its own code, never a
// silent success.
func TestOutputFailure(t *testing.T) {
	c := command(func(env *cli.Env, _ []string) error {
		fmt.Fprintln(env.Stdout, "/the/result")
		return nil
	})
	var stderr strings.Builder
	env := &cli.Env{Stdout: failingWriter{}, Stderr: &stderr, Getenv: func(string) string { return "" }}
	if code := c.Execute(env, []string{"p"}, nil); code != exitcode.Output.N {
		t.Errorf("exit %d, want %d", code, exitcode.Output.N)
	}
	if !strings.Contains(stderr.String(), "cannot write the result to standard output: no space left on device") {
		t.Errorf("stderr %q", stderr.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// --contract prints the declaration as data that decodes back.
func TestContract(t *testing.T) {
	r := execute(t, command(func(*cli.Env, []string) error { t.Error("Run called"); return nil }), plainEnv, "--contract")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var k cli.Contract
	if err := json.Unmarshal([]byte(r.stdout), &k); err != nil {
		t.Fatalf("contract does not decode: %v\n%s", err, r.stdout)
	}
	if k.Name != "virtdev-test" || k.Synopsis != "<project> [resource]" || len(k.Args) != 2 || k.Args[1].Values[1] != "port" {
		t.Errorf("contract %+v", k)
	}
	var codes []int
	for _, c := range k.Codes {
		codes = append(codes, c.N)
	}
	if !slices.Equal(codes, []int{0, 1, 3, 7, 64, 130}) {
		t.Errorf("codes %v", codes)
	}
	var longs []string
	for _, o := range k.Options {
		longs = append(longs, o.Long)
	}
	if !slices.Equal(longs, []string{"verbose", "name", "color", "help"}) {
		t.Errorf("options %v (the hidden --contract must not be among them)", longs)
	}
	if !strings.Contains(execute(t, command(nil), plainEnv, "--help").stdout, "--verbose") ||
		strings.Contains(execute(t, command(nil), plainEnv, "--help").stdout, "--contract") {
		t.Error("--help shows --contract or misses an option")
	}
}
