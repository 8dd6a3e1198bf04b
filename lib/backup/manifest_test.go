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
