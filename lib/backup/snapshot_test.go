package backup_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/backup"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

// snapshot writes a snapshot's files; an empty value leaves a file out.
func snapshot(t *testing.T, l layout.Layout, name, id, marker, manifest, generation string, tree bool) layout.Snapshot {
	t.Helper()
	s := l.Snapshot(name, id)
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string]string{s.Project: marker, s.Manifest: manifest, s.Generation: generation} {
		if content != "" {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if tree {
		if err := os.Mkdir(s.Tree, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestListing(t *testing.T) {
	l := layout.Layout{Home: t.TempDir()}
	if got := backup.Latest(l, "p"); got != "" {
		t.Errorf("Latest without backups = %q", got)
	}
	snapshot(t, l, "p", "2026-03-01/12-00-00", "p\n", "a\n", "7\n", true)
	snapshot(t, l, "p", "2025-12-31/23-59-59", "p\n", "a\n", "", true)
	snapshot(t, l, "p", "2026-01-02/03-04-05", "p\n", "a\n", "detached\n", true)
	snapshot(t, l, "p", "2026-01-03/00-00-00", "p\n", "a\n", "junk\n", true)
	// Neither is a complete snapshot.
	snapshot(t, l, "p", "2026-02-30/00-00-00", "p\n", "a\n", "7\n", true)
	partial := l.Snapshot("p", "2026-04-01/00-00-00").Dir + backup.PartialSuffix
	if err := os.MkdirAll(partial, 0o700); err != nil {
		t.Fatal(err)
	}

	ids := backup.IDs(l.Backups("p"))
	want := []string{"2025-12-31/23-59-59", "2026-01-02/03-04-05", "2026-01-03/00-00-00", "2026-03-01/12-00-00"}
	if !slices.Equal(ids, want) {
		t.Errorf("IDs = %q, want %q", ids, want)
	}
	if got := backup.Latest(l, "p"); got != want[3] {
		t.Errorf("Latest = %q, want %q", got, want[3])
	}
	if got := backup.Partials(l.Backups("p")); !slices.Equal(got, []string{partial}) {
		t.Errorf("Partials = %q, want %q", got, partial)
	}
	var gens []string
	for _, info := range backup.List(l, "p") {
		gens = append(gens, info.Generation)
		if info.Size <= 0 || info.Taken.IsZero() {
			t.Errorf("%s: size %d, taken %v", info.ID, info.Size, info.Taken)
		}
	}
	if want := []string{"-", "detached", "<corrupt>", "7"}; !slices.Equal(gens, want) {
		t.Errorf("generations %q, want %q", gens, want)
	}
}

func TestResolve(t *testing.T) {
	l := layout.Layout{Home: t.TempDir()}
	if _, err := backup.Resolve(l, "p", ""); !errors.Is(err, backup.ErrNoSnapshots) {
		t.Errorf("no snapshots: %v", err)
	}
	snapshot(t, l, "p", "2026-01-02/03-04-05", "p\n", "a\n", "7\n", true)
	if id, err := backup.Resolve(l, "p", ""); err != nil || id != "2026-01-02/03-04-05" {
		t.Errorf("latest: %q, %v", id, err)
	}
	if _, err := backup.Resolve(l, "p", "2026-01-02/03-04-06"); !errors.Is(err, backup.ErrSnapshotNotFound) {
		t.Errorf("another id: %v", err)
	}
}

func TestOpen(t *testing.T) {
	const id = "2026-01-02/03-04-05"
	for _, tc := range []struct {
		name                         string
		marker, manifest, generation string
		tree                         bool
		check                        func(error) bool
	}{
		{"whole", "p\n", "src/\n", "7\n", true, func(err error) bool { return err == nil }},
		{"no marker", "", "src/\n", "7\n", true, func(err error) bool { return errors.Is(err, backup.ErrNoMarker) }},
		{"other project", "q\n", "src/\n", "7\n", true, func(err error) bool {
			var other *backup.OtherProjectError
			return errors.As(err, &other) && other.Marker == "q" && other.Project == "p"
		}},
		{"no manifest", "p\n", "", "7\n", true, func(err error) bool { return errors.Is(err, backup.ErrSnapshotManifest) }},
		{"bad manifest", "p\n", "../x\n", "7\n", true, func(err error) bool {
			var bad *backup.ManifestError
			return errors.As(err, &bad)
		}},
		{"no tree", "p\n", "src/\n", "7\n", false, func(err error) bool { return errors.Is(err, backup.ErrNoTree) }},
		{"corrupt generation", "p\n", "src/\n", "seven\n", true, func(err error) bool {
			var corrupt *project.CorruptError
			return errors.As(err, &corrupt)
		}},
	} {
		l := layout.Layout{Home: t.TempDir()}
		s := snapshot(t, l, "p", id, tc.marker, tc.manifest, tc.generation, tc.tree)
		opened, err := backup.Open(l, "p", id)
		if !tc.check(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err == nil && (opened.Snapshot.Dir != s.Dir || opened.Generation.String() != "7" || !slices.Equal(opened.Manifest.Entries, []string{"src/"})) {
			t.Errorf("%s: opened %+v", tc.name, opened)
		}
		if err != nil && !strings.Contains(err.Error(), s.Dir) {
			t.Errorf("%s: the message does not name the snapshot: %v", tc.name, err)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}
