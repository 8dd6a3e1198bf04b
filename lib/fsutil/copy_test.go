package fsutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestCopy(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("vars"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := Copy(src, dst, 0o644); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "vars" {
		t.Errorf("copied %q, want %q", data, "vars")
	}
	if info, _ := os.Stat(dst); info.Mode().Perm() != 0o644 {
		t.Errorf("mode %o, want 644 (not the source's 444)", info.Mode().Perm())
	}
	if err := Copy(src, dst, 0o644); err == nil {
		t.Error("Copy replaced an existing file")
	}
}

func TestClone(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	data := bytes.Repeat([]byte("base"), 1<<14)
	if err := os.WriteFile(src, data, 0o444); err != nil {
		t.Fatal(err)
	}
	shared, err := Clone(src, dst, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("blocks shared: %v", shared)
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Error("the clone's content differs from the source's")
	}
	if info, _ := os.Stat(dst); info.Mode().Perm() != 0o644 {
		t.Errorf("mode %o, want 644 (not the source's 444)", info.Mode().Perm())
	}
	if _, err := Clone(src, dst, 0o644); err == nil {
		t.Error("Clone replaced an existing file")
	}
	if _, err := Clone(filepath.Join(dir, "missing"), filepath.Join(dir, "other"), 0o644); err == nil {
		t.Error("Clone of a missing file succeeded")
	}
	if _, err := os.Lstat(filepath.Join(dir, "other")); err == nil {
		t.Error("a failed Clone left its destination behind")
	}
}
