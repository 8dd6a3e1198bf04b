package dispatch_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"virtdev/lib/dispatch"
)

func TestValidVerb(t *testing.T) {
	for _, verb := range []string{"start", "path", "a", "x-y", "..a", "a..", "start.sh"} {
		if !dispatch.ValidVerb(verb) {
			t.Errorf("ValidVerb(%q) = false", verb)
		}
	}
	for _, verb := range []string{"", ".", "..", "/", "a/b", "../start", "./start", "/usr/bin/start", "-x", "--help"} {
		if dispatch.ValidVerb(verb) {
			t.Errorf("ValidVerb(%q) = true", verb)
		}
	}
}

// program creates a file with the given mode.
func program(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	self := filepath.Join(root, "self")
	onPath := filepath.Join(root, "path")
	besideSelf := program(t, self, "virtdev-both", 0o755)
	program(t, onPath, "virtdev-both", 0o755)
	pathOnly := program(t, onPath, "virtdev-path-only", 0o755)
	program(t, self, "virtdev-notexec", 0o644)
	pathNotExec := program(t, onPath, "virtdev-notexec", 0o755)
	if err := os.Mkdir(filepath.Join(self, "virtdev-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", onPath)

	for _, tc := range []struct {
		self, verb, want string
		ok               bool
	}{
		{self, "both", besideSelf, true},
		{self, "path-only", pathOnly, true},
		{self, "notexec", pathNotExec, true}, // a non-executable beside self is passed over
		{self, "dir", "", false},
		{self, "missing", "", false},
		{"", "both", filepath.Join(onPath, "virtdev-both"), true},
	} {
		got, ok := dispatch.Find(tc.self, tc.verb)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Find(%q, %q) = %q, %v, want %q, %v", tc.self, tc.verb, got, ok, tc.want, tc.ok)
		}
	}
}

func TestVerbs(t *testing.T) {
	root := t.TempDir()
	self := filepath.Join(root, "self")
	a := filepath.Join(root, "a")
	b := filepath.Join(root, "b")
	program(t, self, "virtdev-start", 0o755)
	program(t, self, "virtdev-path", 0o755)
	program(t, a, "virtdev-start", 0o755) // also beside self: listed once
	program(t, a, "virtdev-zeta", 0o755)
	program(t, a, "virtdev-notexec", 0o644)
	program(t, a, "virtdev-", 0o755)
	program(t, a, "virtdev--opt", 0o755)
	program(t, a, "other-tool", 0o755)
	program(t, b, "virtdev-alpha", 0o755)
	if err := os.Mkdir(filepath.Join(b, "virtdev-dir"), 0o755); err != nil {
		t.Fatal(err)
	}

	pathList := a + string(os.PathListSeparator) + string(os.PathListSeparator) +
		filepath.Join(root, "missing") + string(os.PathListSeparator) + b
	got := dispatch.Verbs(self, pathList)
	want := []string{"alpha", "path", "start", "zeta"}
	if !slices.Equal(got, want) {
		t.Errorf("Verbs = %q, want %q", got, want)
	}
	if got := dispatch.Verbs("", ""); len(got) != 0 {
		t.Errorf("Verbs with nowhere to look = %q", got)
	}
}
