package cli_test

import (
	"context"
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
		Name:     "virtdev-test",
		Synopsis: "<project> [resource]",
		Summary:  "Do a test thing.",
		Description: `Resources:
  data    the directory
  port    the port

Exit codes: 0 done; 7 seven.`,
		Run: run,
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
			"Exit codes: 0 done; 7 seven.",
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
			if r.code != cli.ExitUsage || r.stdout != "" {
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
	c.Synopsis = ""
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
		{"double dash ends flags", false, []string{"-v", "--", "-v", "--name", "--help"}, []string{"-v", "--name", "--help"}, options{Verbose: true}},
		{"colour among positionals", false, []string{"a", "--color=no", "b"}, []string{"a", "b"}, options{}},
		{"pass-through stops at the first positional", true, []string{"-v", "ssh", "-v", "--name=x", "--help"}, []string{"ssh", "-v", "--name=x", "--help"}, options{Verbose: true}},
		{"pass-through double dash", true, []string{"--", "-v"}, []string{"-v"}, options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := command(nil)
			c.PassThrough = tc.passThrough
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

func TestCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{cli.Errorf(75, "locked"), 75},
		{fmt.Errorf("a: %w", cli.Errorf(2, "b")), 2},
		{cli.Usage("u"), 64},
	} {
		if got := cli.Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestPositionals(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		min, max int
		want     string // "" for no error
	}{
		{nil, 0, 0, ""},
		{[]string{"a"}, 1, 2, ""},
		{[]string{"a", "b"}, 1, 2, ""},
		{[]string{"a", "b", "c"}, 0, -1, ""},
		{nil, 1, 2, "missing argument"},
		{[]string{"a", "b", "c"}, 1, 2, `unexpected argument "c"`},
		{[]string{"a"}, 0, 0, `unexpected argument "a"`},
	} {
		err := cli.Positionals(tc.args, tc.min, tc.max)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Positionals(%q, %d, %d) = %v", tc.args, tc.min, tc.max, err)
		case tc.want != "" && (cli.Code(err) != cli.ExitUsage || err.Error() != tc.want):
			t.Errorf("Positionals(%q, %d, %d) = %v, want usage error %q", tc.args, tc.min, tc.max, err, tc.want)
		}
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
	if r.code != cli.ExitConfig || !strings.Contains(r.stderr, `VIRTDEV_VM_MEMORY="4G" is not valid`) || r.stdout != "" {
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
	if exit.ExitCode() != cli.ExitInterrupted || stderr != "virtdev-test: interrupted\n" {
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
