package fsutil

import (
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
