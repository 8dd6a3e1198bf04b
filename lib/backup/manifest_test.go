package backup_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/backup"
	"virtdev/lib/layout"
)

func write(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("/home/dev/src\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestManifestCandidates(t *testing.T) {
	l := layout.Layout{Home: "/v", ConfigDir: "/c"}
	got := backup.ManifestCandidates(l, "p")
	want := []string{"/v/projects/p/manifest", "/c/projects/p/manifest"}
	if !slices.Equal(got, want) {
		t.Errorf("ManifestCandidates = %q, want %q", got, want)
	}
}

func TestResolveManifest(t *testing.T) {
	root := t.TempDir()
	l := layout.Layout{Home: filepath.Join(root, "home"), ConfigDir: filepath.Join(root, "config")}
	local, durable := l.Project("p").Manifest, l.ProjectConfig("p").Manifest

	_, err := backup.ResolveManifest(l, "p")
	if !errors.Is(err, backup.ErrNoManifest) || !strings.Contains(err.Error(), local) || !strings.Contains(err.Error(), durable) {
		t.Errorf("without manifests: %v, want ErrNoManifest naming both places", err)
	}

	// A directory where a manifest should be is no manifest.
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, durable)
	if got, err := backup.ResolveManifest(l, "p"); err != nil || got != durable {
		t.Errorf("durable only: %q, %v, want %q", got, err, durable)
	}

	// The project-local one takes precedence when present.
	if err := os.Remove(local); err != nil {
		t.Fatal(err)
	}
	write(t, local)
	if got, err := backup.ResolveManifest(l, "p"); err != nil || got != local {
		t.Errorf("both: %q, %v, want the local %q", got, err, local)
	}
	if err := os.Remove(durable); err != nil {
		t.Fatal(err)
	}
	if got, err := backup.ResolveManifest(l, "p"); err != nil || got != local {
		t.Errorf("local only: %q, %v, want %q", got, err, local)
	}
}

func TestParseManifest(t *testing.T) {
	text := "# keep these\n\n.bashrc\nsrc/\n  # indented comment\n.config/nvim/\n#not-a-path\ndir with spaces/ünïcödé\n"
	m, err := backup.ParseManifest("/m", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".bashrc", "src/", ".config/nvim/", "dir with spaces/ünïcödé"}
	if !slices.Equal(m.Entries, want) || string(m.Text) != text || m.Path != "/m" {
		t.Errorf("ParseManifest = %+v, want entries %q and the text kept", m, want)
	}
}

func TestParseManifestRefuses(t *testing.T) {
	for _, tc := range []struct {
		text  string
		kind  string // "" for an empty manifest
		lines []int  // the lines reported, in order
	}{
		{"", "", nil},
		{"# only\n\n   \n", "", nil},
		{"ok\n/etc/passwd\n", backup.ProblemAbsolute, []int{2}},
		{"  /root\n", backup.ProblemAbsolute, []int{1}},
		{"../x\nok\na/../../b\na..b/..c\n", backup.ProblemEscapes, []int{1, 3}},
		{"..\n", backup.ProblemEscapes, []int{1}},
		{" lead\ntrail \ncr\r\ntab\there\nnul\x00\n", backup.ProblemMalformed, []int{1, 2, 3, 4, 5}},
		{"bad\xffutf8\n", backup.ProblemMalformed, []int{1}},
		// Every line is reported, the kinds in order: absolute first.
		{" lead\n../up\n/abs\n", backup.ProblemAbsolute, []int{3, 2, 1}},
	} {
		_, err := backup.ParseManifest("/m", []byte(tc.text))
		var bad *backup.ManifestError
		if !errors.As(err, &bad) {
			t.Errorf("%q: %v, want a ManifestError", tc.text, err)
			continue
		}
		var lines []int
		for _, p := range bad.Problems {
			lines = append(lines, p.Line)
		}
		if bad.Kind() != tc.kind || bad.Empty() != (tc.kind == "") || !slices.Equal(lines, tc.lines) {
			t.Errorf("%q: kind %q lines %v, want %q %v", tc.text, bad.Kind(), lines, tc.kind, tc.lines)
		}
		if !strings.Contains(err.Error(), "/m") {
			t.Errorf("%q: the message does not name the manifest: %v", tc.text, err)
		}
	}
}
