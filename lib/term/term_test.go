package term_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"virtdev/lib/term"
)

// fixtureTerminfo compiles terminal descriptions whose sequences no real
// terminal uses, so a palette that emits them can only have read them from
// terminfo.
func fixtureTerminfo(t *testing.T) {
	t.Helper()
	tic, err := exec.LookPath("tic")
	if err != nil {
		t.Skip("tic (ncurses) is not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fixture.ti")
	const entries = `virtdev-fixture|terminal with made-up sequences,
	colors#8, bold=<b>, setaf=<fg%p1%d>, sgr0=<0>,
virtdev-mono|terminal without colours,
	bold=<b>, sgr0=<0>,
`
	if err := os.WriteFile(src, []byte(entries), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tic, "-x", "-o", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("tic: %v\n%s", err, out)
	}
	t.Setenv("TERMINFO", dir)
}

func env(vars ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	return func(name string) string { return m[name] }
}

// pty opens a pseudo-terminal and returns its terminal end.
func pty(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("cannot open the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { slave.Close() })
	return slave
}

func notTerminal(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestPaintFromTerminfo(t *testing.T) {
	fixtureTerminfo(t)
	p := term.NewPalette(term.ModeYes, notTerminal(t), env("TERM", "virtdev-fixture"))
	if !p.Enabled() {
		t.Fatal("--color=yes with a colour terminal is disabled")
	}
	for _, tc := range []struct{ got, want string }{
		{p.Paint("failed", term.Red, true), "<b><fg1>failed<0>"},
		{p.Paint("ok", term.Green, false), "<fg2>ok<0>"},
		{p.Paint("", term.Red, true), ""},
		{p.Bold("stage"), "<b>stage<0>"},
		{p.Bold(""), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestModes(t *testing.T) {
	fixtureTerminfo(t)
	tty := pty(t)
	file := notTerminal(t)
	for _, tc := range []struct {
		name   string
		mode   string
		stderr *os.File
		vars   []string
		want   bool
	}{
		{"auto on a terminal", term.ModeAuto, tty, []string{"TERM", "virtdev-fixture"}, true},
		{"auto with NO_COLOR", term.ModeAuto, tty, []string{"TERM", "virtdev-fixture", "NO_COLOR", "1"}, false},
		{"auto with TERM=dumb", term.ModeAuto, tty, []string{"TERM", "dumb"}, false},
		{"auto without TERM", term.ModeAuto, tty, nil, false},
		{"auto with unknown TERM", term.ModeAuto, tty, []string{"TERM", "no-such-terminal"}, false},
		{"auto without colours", term.ModeAuto, tty, []string{"TERM", "virtdev-mono"}, false},
		{"auto on a file", term.ModeAuto, file, []string{"TERM", "virtdev-fixture"}, false},
		{"auto without stderr", term.ModeAuto, nil, []string{"TERM", "virtdev-fixture"}, false},
		{"no on a terminal", term.ModeNo, tty, []string{"TERM", "virtdev-fixture"}, false},
		{"yes on a file", term.ModeYes, file, []string{"TERM", "virtdev-fixture"}, true},
		{"yes overrides NO_COLOR", term.ModeYes, file, []string{"TERM", "virtdev-fixture", "NO_COLOR", "1"}, true},
		{"yes without colours", term.ModeYes, tty, []string{"TERM", "virtdev-mono"}, false},
		{"yes with unknown TERM", term.ModeYes, tty, []string{"TERM", "no-such-terminal"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := term.NewPalette(tc.mode, tc.stderr, env(tc.vars...))
			if p.Enabled() != tc.want {
				t.Errorf("Enabled() = %v, want %v", p.Enabled(), tc.want)
			}
			if !tc.want {
				if got := p.Paint("text", term.Red, true) + p.Bold("more"); got != "textmore" {
					t.Errorf("a disabled palette painted: %q", got)
				}
			}
		})
	}
}

// --color=yes on a dumb or unnamed terminal still colours, with a common
// terminal's sequences.
func TestYesOnDumbTerminal(t *testing.T) {
	for _, vars := range [][]string{{"TERM", "dumb"}, nil} {
		p := term.NewPalette(term.ModeYes, nil, env(vars...))
		if !p.Enabled() {
			t.Skip("no xterm-256color terminfo entry on this host")
		}
		if got := p.Paint("x", term.Red, false); got == "x" || got[0] != 0x1b {
			t.Errorf("TERM=%v: Paint = %q, want an escape sequence", vars, got)
		}
	}
}

func TestNilPalette(t *testing.T) {
	var p *term.Palette
	if p.Enabled() || p.Paint("a", term.Red, true) != "a" || p.Bold("b") != "b" {
		t.Error("a nil palette must pass text through")
	}
}

func TestIsTerminal(t *testing.T) {
	if term.IsTerminal(nil) {
		t.Error("IsTerminal(nil) = true")
	}
	if term.IsTerminal(notTerminal(t)) {
		t.Error("IsTerminal(regular file) = true")
	}
	if !term.IsTerminal(pty(t)) {
		t.Error("IsTerminal(pty) = false")
	}
}
