package base

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

func write(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// installed is a layout with an installation whose files have the modes a
// build gives them; the images are stand-ins, Seal does not read them.
func installed(t *testing.T) layout.Layout {
	t.Helper()
	l := layout.Layout{Home: t.TempDir(), Cache: t.TempDir()}
	inst := l.Installation()
	write(t, inst.SystemImage, "system", 0o644)
	write(t, inst.HomeImage, "home", 0o640)
	write(t, inst.NVRAM, "vars", 0o600)
	return l
}

var installedModes = map[string]fs.FileMode{"system.qcow2": 0o644, "home.qcow2": 0o640, "nvram": 0o600}

// checkInstallation fails unless the installation is back as installed made it.
func checkInstallation(t *testing.T, l layout.Layout) {
	t.Helper()
	for name, want := range installedModes {
		if got := mode(t, filepath.Join(l.Installation().Dir, name)); got != want {
			t.Errorf("%s has mode %04o after the rollback, want %04o as before the seal", name, got, want)
		}
	}
	if scratch := sealings(l); len(scratch) != 0 {
		t.Errorf("scratch directories left: %v", scratch)
	}
}

func TestSeal(t *testing.T) {
	l := installed(t)
	if err := Seal(l, project.Generation{Number: 4}); err != nil {
		t.Fatal(err)
	}
	sys := l.System()
	for _, f := range append(Files(sys), sys.Generation) {
		if got := mode(t, f); got != SealedMode {
			t.Errorf("%s has mode %04o, want %04o", f, got, SealedMode)
		}
	}
	if g, err := Sealed(l); err != nil || g.Number != 4 {
		t.Errorf("Sealed = %v, %v, want generation 4", g, err)
	}
	entries, _ := os.ReadDir(sys.Dir)
	if len(entries) != 4 {
		t.Errorf("system/ holds %v, want the three files and the generation", entries)
	}
	if entries, _ := os.ReadDir(l.Installation().Dir); len(entries) != 0 {
		t.Errorf("installation/ still holds %v", entries)
	}
}

// A seal that fails at its last step puts the files back with the modes
// they had, not the sealed 444.
func TestSealFailureRestoresModes(t *testing.T) {
	l := installed(t)
	write(t, filepath.Join(l.System().Dir, "in-the-way"), "", 0o644)
	if err := Seal(l, project.Generation{Number: 1}); err == nil {
		t.Fatal("Seal over a non-empty system/ succeeded")
	}
	checkInstallation(t, l)
}

// Each state a seal killed on the way can leave, made by hand as Seal
// makes it step by step, is undone (files back, modes restored) or, once
// the base in the scratch is whole, finished.
func TestRecoverInterruptedSeal(t *testing.T) {
	record := "0644 system.qcow2\n0640 home.qcow2\n0600 nvram\n"
	type file struct {
		content string
		mode    fs.FileMode
	}
	for _, tc := range []struct {
		name     string
		scratch  map[string]file // what the scratch holds
		inst     []string        // what is still in installation/
		finished bool
	}{
		{name: "killed before the record", scratch: map[string]file{}, inst: []string{"system.qcow2", "home.qcow2", "nvram"}},
		{name: "killed while moving", scratch: map[string]file{".modes": {record, 0o600}, "system.qcow2": {"system", 0o644}}, inst: []string{"home.qcow2", "nvram"}},
		{name: "killed while sealing modes", scratch: map[string]file{".modes": {record, 0o600}, "system.qcow2": {"system", 0o444},
			"home.qcow2": {"home", 0o444}, "nvram": {"vars", 0o600}, "generation": {"1\n", 0o444}}},
		{name: "killed before the rename", scratch: map[string]file{"system.qcow2": {"system", 0o444},
			"home.qcow2": {"home", 0o444}, "nvram": {"vars", 0o444}, "generation": {"1\n", 0o444}}, finished: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := layout.Layout{Home: t.TempDir()}
			inst := l.Installation().Dir
			scratch := filepath.Join(l.Home, SealingPrefix+"1234")
			if err := os.MkdirAll(inst, 0o755); err != nil {
				t.Fatal(err)
			}
			os.Mkdir(scratch, 0o700)
			for name, f := range tc.scratch {
				write(t, filepath.Join(scratch, name), f.content, f.mode)
			}
			for _, name := range tc.inst {
				write(t, filepath.Join(inst, name), strings.TrimSuffix(name, ".qcow2"), installedModes[name])
			}
			r, err := Recover(l)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Done) == 0 {
				t.Error("Recover said nothing of what it did")
			}
			if r.Finished != tc.finished {
				t.Errorf("Finished = %v, want %v", r.Finished, tc.finished)
			}
			if tc.finished {
				if g, err := Sealed(l); err != nil || g.Number != 1 {
					t.Errorf("after finishing, Sealed = %v, %v", g, err)
				}
				if _, err := os.Stat(inst); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the empty installation/ stayed: %v", err)
				}
				return
			}
			checkInstallation(t, l)
			if _, err := os.Stat(l.System().Dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("system/ appeared: %v", err)
			}
		})
	}
}

// A file in both places is never replaced: the scratch stays, and the
// error says where.
func TestRecoverNeverReplaces(t *testing.T) {
	l := installed(t)
	scratch := filepath.Join(l.Home, SealingPrefix+"1")
	write(t, filepath.Join(scratch, "nvram"), "other vars", 0o444)
	_, err := Recover(l)
	if err == nil || !strings.Contains(err.Error(), scratch) {
		t.Fatalf("Recover = %v, want an error naming %s", err, scratch)
	}
	if data, _ := os.ReadFile(filepath.Join(scratch, "nvram")); string(data) != "other vars" {
		t.Error("the scratch's file was lost")
	}
	if data, _ := os.ReadFile(l.Installation().NVRAM); string(data) != "vars" {
		t.Error("the installation's file was replaced")
	}
}

func TestRecoverNothing(t *testing.T) {
	l := installed(t)
	r, err := Recover(l)
	if err != nil || len(r.Done) != 0 || r.Finished {
		t.Errorf("Recover of a clean home = %+v, %v", r, err)
	}
	checkInstallation(t, l)
}

func TestNextGeneration(t *testing.T) {
	l := layout.Layout{Home: t.TempDir()}
	write(t, l.Project("a").Generation, "3\n", 0o644)
	write(t, l.Project("d").Generation, "detached\n", 0o644)
	if err := os.MkdirAll(l.Project("none").Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A project kept elsewhere through a symbolic link cannot be used,
	// but the user may put it back: its generation counts.
	elsewhere := filepath.Join(t.TempDir(), "real")
	write(t, filepath.Join(elsewhere, "generation"), "7\n", 0o644)
	if err := os.Symlink(elsewhere, l.Project("link").Dir); err != nil {
		t.Fatal(err)
	}
	write(t, l.Project("file").Dir, "a file", 0o644)
	if g, err := NextGeneration(l); err != nil || g.Number != 8 {
		t.Errorf("NextGeneration = %v, %v, want 8 (above the linked project's 7)", g, err)
	}
}

// A generation that cannot be read, or that no number follows, stops the
// seal before it changes anything.
func TestNextGenerationRefuses(t *testing.T) {
	for content, want := range map[string]string{
		"9223372036854775807\n": "not a positive whole number",
		"2147483647\n":          "the last generation",
		"x\n":                   "not a positive whole number",
	} {
		l := layout.Layout{Home: t.TempDir()}
		write(t, l.Project("p").Generation, content, 0o644)
		_, err := NextGeneration(l)
		var n *NumberingError
		if !errors.As(err, &n) || n.Project != "p" || !strings.Contains(err.Error(), want) {
			t.Errorf("NextGeneration over %q = %v, want a NumberingError saying %q", content, err, want)
		}
	}
}

func TestSealedUnusableHome(t *testing.T) {
	l := layout.Layout{Home: filepath.Join(t.TempDir(), "home")}
	write(t, l.Home, "a file", 0o644)
	if _, err := Sealed(l); exitcode.For(err) != exitcode.HomeUnusable.N {
		t.Errorf("Sealed with VIRTDEV_HOME a file = %v, want code %d", err, exitcode.HomeUnusable.N)
	}
}

func TestSealedNamesAnInterruptedSeal(t *testing.T) {
	l := layout.Layout{Home: t.TempDir()}
	scratch := filepath.Join(l.Home, SealingPrefix+"9")
	write(t, filepath.Join(scratch, "system.qcow2"), "", 0o644)
	_, err := Sealed(l)
	if exitcode.For(err) != exitcode.NoBase.N || !strings.Contains(err.Error(), scratch) || !strings.Contains(err.Error(), "run virtdev-seal") {
		t.Errorf("Sealed = %v, want no base, naming %s", err, scratch)
	}
}
