package backup

import (
	"os"
	"path/filepath"
	"testing"
)

// A flushed snapshot takes its final name; one whose flush failed keeps
// its partial one, so that nothing looks complete that may not be on disk.
func TestFinish(t *testing.T) {
	root := t.TempDir()
	partial, final := filepath.Join(root, "10-00-00.partial"), filepath.Join(root, "10-00-00")
	if err := os.MkdirAll(filepath.Join(partial, "tree", "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(partial, "tree", "d", "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, err := os.Open(partial)
	if err != nil {
		t.Fatal(err)
	}
	dir.Close()
	if err := finish(dir, final); err == nil {
		t.Error("finish with a flush that failed succeeded")
	}
	if _, err := os.Stat(final); err == nil {
		t.Fatal("a snapshot whose flush failed was put in place")
	}

	if dir, err = os.Open(partial); err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if err := finish(dir, final); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if content, err := os.ReadFile(filepath.Join(final, "tree", "d", "f")); err != nil || string(content) != "x" {
		t.Errorf("the snapshot in place holds %q, %v", content, err)
	}
	if _, err := os.Stat(partial); err == nil {
		t.Error("the partial snapshot is still there")
	}
}
