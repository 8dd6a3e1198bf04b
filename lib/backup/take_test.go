package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestSyncTree(t *testing.T) {
	root := t.TempDir()
	for i := range 100 {
		dir := filepath.Join(root, fmt.Sprint(i%7))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("nowhere", filepath.Join(root, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := syncTree(root); err != nil {
		t.Errorf("syncTree: %v", err)
	}
	if os.Geteuid() != 0 {
		unreadable := filepath.Join(root, "0", "0")
		if err := os.Chmod(unreadable, 0); err != nil {
			t.Fatal(err)
		}
		if err := syncTree(root); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("syncTree with an unreadable file: %v, want a permission error", err)
		}
	}
}
