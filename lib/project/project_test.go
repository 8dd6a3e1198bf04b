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
		strings.Repeat("b", 101), "has.dot", "has space", ".hidden", ".create-p-123"} {
		mkdir(t, filepath.Join(l.Projects(), name))
	}
	write(t, filepath.Join(l.Projects(), "file"), "not a project")
	if err := os.Symlink(l.Project("zeta").Dir, filepath.Join(l.Projects(), "link")); err != nil {
		t.Fatal(err)
	}
	entries, err := project.List(l)
	if err != nil {
		t.Fatal(err)
	}
	// A symbolic link or a file with a project's name is a project that
	// cannot be used, listed with Find's error, not skipped.
	want := map[string]int{"Alpha": 0, "_under": 0, long: 0, "beta-2": 0, "file": exitcode.Unusable.N, "link": exitcode.Unusable.N, "zeta": 0}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
		if code, ok := want[e.Name]; !ok || exitcode.For(e.Err) != code {
			t.Errorf("List: %s with %v (code %d), want code %d", e.Name, e.Err, exitcode.For(e.Err), code)
		}
	}
	if wantNames := []string{"Alpha", "_under", long, "beta-2", "file", "link", "zeta"}; !slices.Equal(names, wantNames) {
		t.Errorf("List = %q, want %q", names, wantNames)
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

// A VIRTDEV_HOME or projects directory that cannot be used is said to be
// so (86), by List and by Find alike, not reported as a project that is
// missing or unusable.
func TestUnusableHome(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every directory")
	}
	for name, spoil := range map[string]func(t *testing.T, l layout.Layout){
		"home is a file":     func(t *testing.T, l layout.Layout) { write(t, l.Home, "x") },
		"projects is a file": func(t *testing.T, l layout.Layout) { write(t, l.Projects(), "x") },
		"home unreadable": func(t *testing.T, l layout.Layout) {
			mkdir(t, l.Projects())
			os.Chmod(l.Home, 0o200)
			t.Cleanup(func() { os.Chmod(l.Home, 0o700) })
		},
		"projects unreadable": func(t *testing.T, l layout.Layout) {
			mkdir(t, l.Projects())
			os.Chmod(l.Projects(), 0o300)
			t.Cleanup(func() { os.Chmod(l.Projects(), 0o700) })
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := layout.Layout{Home: filepath.Join(t.TempDir(), "virtdev")}
			spoil(t, l)
			if _, err := project.List(l); exitcode.For(err) != exitcode.HomeUnusable.N {
				t.Errorf("List = %v, want code %d", err, exitcode.HomeUnusable.N)
			}
			if name == "projects unreadable" {
				return // a project in it can still be reached by its name
			}
			if _, err := project.Find(l, "p"); exitcode.For(err) != exitcode.HomeUnusable.N {
				t.Errorf("Find = %v, want code %d", err, exitcode.HomeUnusable.N)
			}
			if err := project.CheckHome(l); name == "home is a file" || name == "home unreadable" {
				if exitcode.For(err) != exitcode.HomeUnusable.N || !strings.Contains(err.Error(), l.Home) {
					t.Errorf("CheckHome = %v, want code %d naming %s", err, exitcode.HomeUnusable.N, l.Home)
				}
			}
		})
	}
	// A VIRTDEV_HOME that does not exist yet holds nothing, and is fine.
	l := layout.Layout{Home: filepath.Join(t.TempDir(), "none")}
	if entries, err := project.List(l); err != nil || len(entries) != 0 {
		t.Errorf("List without VIRTDEV_HOME = %v, %v", entries, err)
	}
	if _, err := project.Find(l, "p"); exitcode.For(err) != exitcode.NotFound.N {
		t.Errorf("Find without VIRTDEV_HOME = %v, want not found", err)
	}
	if err := project.CheckHome(l); err != nil {
		t.Errorf("CheckHome without VIRTDEV_HOME = %v", err)
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
		{"2147483647\n", false, project.Generation{Number: project.MaxGeneration}},
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
		{"99999999999999999999", true}, {"9223372036854775807", true}, {"2147483648", false},
		{"Detached", true}, {"detached\n\n", true},
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
	if msg := err.Error(); len(msg) > len(path)+130 || !strings.Contains(msg, `xxx"…`) {
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
