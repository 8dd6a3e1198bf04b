package guest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"virtdev/lib/layout"
)

// What a build killed on the way leaves is found through the scratch
// directory beside installation/, whose record names the build directory
// under $TMPDIR, and removed.
func TestRecoverBuilds(t *testing.T) {
	home, tmp := t.TempDir(), t.TempDir()
	b := Build{Dest: layout.Base{Dir: filepath.Join(home, "installation")}}
	build := filepath.Join(tmp, buildPrefix+"0123")
	for _, dir := range []string{
		filepath.Join(build, tmpRootfs, "etc"), build + disksSuffix,
		filepath.Join(home, ".installation-1", scratchResult), filepath.Join(home, ".installation-2"),
		filepath.Join(home, "keep"),
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	records := map[string]string{
		".installation-1": build + "\n",
		// A record naming anything a build could not have made is ignored.
		".installation-2": filepath.Join(home, "keep") + "\n",
	}
	for scratch, record := range records {
		if err := os.WriteFile(filepath.Join(home, scratch, buildRecord), []byte(record), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := b.Recover()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{build, build + disksSuffix, filepath.Join(home, ".installation-1"), filepath.Join(home, ".installation-2")}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	for _, path := range want {
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("%s is still there", path)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "keep")); err != nil {
		t.Errorf("a directory a record named, but no build made, was removed: %v", err)
	}
}

// The build directory's path is recorded before the directory is made.
func TestBuildDirIsRecorded(t *testing.T) {
	scratch := t.TempDir()
	t.Setenv("TMPDIR", t.TempDir())
	dir, err := buildDir(scratch)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	if got, ok := recordedBuildDir(scratch); !ok || got != dir {
		t.Errorf("recorded %q (%v), want %q", got, ok, dir)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		t.Errorf("the build directory: %v", err)
	}
}
