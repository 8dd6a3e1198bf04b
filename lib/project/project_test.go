package project_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

func newLayout(t *testing.T) layout.Layout {
	return layout.Layout{Home: t.TempDir()}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestListWithoutProjectsDirectory(t *testing.T) {
	names, err := project.List(newLayout(t))
	if err != nil || len(names) != 0 {
		t.Errorf("List = %q, %v, want nothing", names, err)
	}
}

func TestList(t *testing.T) {
	l := newLayout(t)
	long := strings.Repeat("a", 100)
	for _, name := range []string{"zeta", "Alpha", "beta-2", "_under", long, "maintenance",
		strings.Repeat("b", 101), "has.dot", "has space", ".hidden"} {
		mkdir(t, filepath.Join(l.Projects(), name))
	}
	write(t, filepath.Join(l.Projects(), "file"), "not a project")
	if err := os.Symlink(l.Project("zeta").Dir, filepath.Join(l.Projects(), "link")); err != nil {
		t.Fatal(err)
	}
	names, err := project.List(l)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Alpha", "_under", long, "beta-2", "zeta"}
	if !slices.Equal(names, want) {
		t.Errorf("List = %q, want %q", names, want)
	}
}

func TestFind(t *testing.T) {
	l := newLayout(t)
	mkdir(t, l.Project("zeta").Dir)
	write(t, l.Project("file").Dir, "not a project")
	if err := os.Symlink(l.Project("zeta").Dir, l.Project("link").Dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(l.Home, "gone"), l.Project("dangling").Dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]exitcode.Code{
		"zeta": {}, "nope": exitcode.NotFound, "file": exitcode.Unusable, "link": exitcode.Unusable,
		"dangling": exitcode.Unusable, "bad/name": exitcode.InvalidName, "-p": exitcode.InvalidName,
	} {
		m, err := project.Find(l, name)
		if got := exitcode.For(err); got != want.N {
			t.Errorf("Find(%q) = %v (code %d), want code %d", name, err, got, want.N)
		}
		if err == nil && m.Dir != l.Project(name).Dir {
			t.Errorf("Find(%q) = %s", name, m.Dir)
		}
	}
}

func TestListUnreadable(t *testing.T) {
	l := newLayout(t)
	write(t, l.Projects(), "a file where the directory should be")
	if _, err := project.List(l); err == nil {
		t.Error("List over a file = nil error")
	}
}

func TestReadGeneration(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content       string
		allowDetached bool
		want          project.Generation
	}{
		{"1\n", false, project.Generation{Number: 1}},
		{"42", false, project.Generation{Number: 42}},
		{"7\n", true, project.Generation{Number: 7}},
		{"detached\n", true, project.Generation{Detached: true}},
		{"detached", true, project.Generation{Detached: true}},
	} {
		path := filepath.Join(dir, "generation")
		write(t, path, tc.content)
		g, err := project.ReadGeneration(path, tc.allowDetached)
		if err != nil || g != tc.want {
			t.Errorf("ReadGeneration(%q, %v) = %+v, %v, want %+v", tc.content, tc.allowDetached, g, err, tc.want)
		}
	}
}

func TestReadGenerationCorrupt(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content       string
		allowDetached bool
	}{
		{"", true}, {"\n", true}, {"abc", true}, {"0", true}, {"-1", true}, {"01", true}, {"+1", true},
		{"1\n2", true}, {"1\n\n", true}, {" 1", true}, {"1 ", true}, {"1\r\n", true}, {"1.0", true},
		{"99999999999999999999", true}, {"Detached", true}, {"detached\n\n", true},
		{"detached", false},
	} {
		path := filepath.Join(dir, "generation")
		write(t, path, tc.content)
		_, err := project.ReadGeneration(path, tc.allowDetached)
		var c *project.CorruptError
		if !errors.As(err, &c) {
			t.Errorf("ReadGeneration(%q, %v) = %v, want a CorruptError", tc.content, tc.allowDetached, err)
			continue
		}
		if c.Path != path || !strings.Contains(err.Error(), path) {
			t.Errorf("ReadGeneration(%q): error does not name the file: %v", tc.content, err)
		}
		if want := strings.TrimSuffix(tc.content, "\n"); c.Content != want {
			t.Errorf("ReadGeneration(%q): Content = %q, want %q", tc.content, c.Content, want)
		}
	}
}

func TestReadGenerationLongContentIsAbbreviated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generation")
	write(t, path, strings.Repeat("x", 5000))
	_, err := project.ReadGeneration(path, true)
	var c *project.CorruptError
	if !errors.As(err, &c) || !c.Truncated || len(c.Content) > 64 || !strings.HasPrefix(c.Content, "xxxx") {
		t.Errorf("ReadGeneration of a huge file = %v", err)
	}
	// A message quotes a short prefix, never the whole file.
	if msg := err.Error(); len(msg) > len(path)+100 || !strings.Contains(msg, `xxx"…`) {
		t.Errorf("message %q", msg)
	}
}

func TestReadGenerationMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generation")
	_, err := project.ReadGeneration(path, true)
	if !errors.Is(err, project.ErrNoGeneration) || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadGeneration of a missing file = %v, want ErrNoGeneration naming it", err)
	}
	// Something that is there but unreadable is not "missing".
	mkdir(t, path)
	_, err = project.ReadGeneration(path, true)
	var c *project.CorruptError
	if err == nil || errors.Is(err, project.ErrNoGeneration) || errors.As(err, &c) {
		t.Errorf("ReadGeneration of a directory = %v, want a read error", err)
	}
}

func TestWriteGenerationRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generation")
	for _, g := range []project.Generation{{Number: 3}, {Detached: true}} {
		if err := project.WriteGeneration(path, g, 0o644); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		if string(data) != g.String()+"\n" {
			t.Errorf("WriteGeneration(%v) wrote %q", g, data)
		}
		got, err := project.ReadGeneration(path, true)
		if err != nil || got != g {
			t.Errorf("round trip of %v = %v, %v", g, got, err)
		}
	}
	if s := (project.Generation{Number: 12}).String(); s != "12" {
		t.Errorf("String() = %q", s)
	}
}

func TestStale(t *testing.T) {
	l := newLayout(t)
	for name, content := range map[string]string{"current": "3\n", "old": "2\n", "newer": "4\n", "detached": "detached\n"} {
		write(t, l.Project(name).Generation, content)
	}
	mkdir(t, l.Project("nogen").Dir)
	base := &project.Generation{Number: 3}
	for _, tc := range []struct {
		name string
		base *project.Generation
		want project.Staleness
	}{
		{"current", base, project.Current},
		{"old", base, project.Outdated},
		{"newer", base, project.Outdated},
		{"detached", base, project.Current},
		{"nogen", base, project.Unknown},
		{"current", nil, project.Unknown},
		{"detached", nil, project.Current},
		{"nogen", nil, project.Unknown},
	} {
		got, err := project.Stale(l, tc.name, tc.base)
		if err != nil || got != tc.want {
			t.Errorf("Stale(%s, base %v) = %v, %v, want %v", tc.name, tc.base, got, err, tc.want)
		}
	}
	write(t, l.Project("corrupt").Generation, "x\n")
	_, err := project.Stale(l, "corrupt", base)
	var c *project.CorruptError
	if !errors.As(err, &c) || c.Path != l.Project("corrupt").Generation {
		t.Errorf("Stale of a corrupt project = %v, want a CorruptError naming its file", err)
	}
}
