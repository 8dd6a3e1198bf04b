package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadPrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generation")
	if err := os.WriteFile(path, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	for max, want := range map[int]struct {
		data      string
		truncated bool
	}{4: {"1234", true}, 5: {"12345", false}, 6: {"12345", false}} {
		data, truncated, err := ReadPrefix(path, max)
		if err != nil || string(data) != want.data || truncated != want.truncated {
			t.Errorf("ReadPrefix(%d) = %q, %v, %v; want %q, %v", max, data, truncated, err, want.data, want.truncated)
		}
	}
	if _, _, err := ReadPrefix(filepath.Join(t.TempDir(), "none"), 4); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

func TestAbsent(t *testing.T) {
	errNoRecord := errors.New("no record")
	err := Absent(errNoRecord, "/v/projects/p/record")
	if !errors.Is(err, errNoRecord) || err.Error() != "no record: /v/projects/p/record" {
		t.Errorf("Absent = %v", err)
	}
}
