package delta

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/sshx"
)

func sealedBase(t *testing.T) layout.Layout {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("needs qemu-img")
	}
	root := t.TempDir()
	l := layout.Layout{Home: filepath.Join(root, "home"), Cache: filepath.Join(root, "cache")}
	sys := l.System()
	if err := os.MkdirAll(sys.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, size := range map[string]string{sys.SystemImage: "64M", sys.HomeImage: "32M"} {
		if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", path, size).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v: %s", err, out)
		}
	}
	if err := os.WriteFile(sys.NVRAM, []byte("vars"), 0o444); err != nil {
		t.Fatal(err)
	}
	return l
}

func derive(t *testing.T, l layout.Layout, name string) layout.Machine {
	t.Helper()
	if err := Derive(context.Background(), l, name, project.Generation{Number: 1}, sshx.MakeHostKey, t.Logf); err != nil {
		t.Fatal(err)
	}
	return l.Project(name)
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The cached deltas must be exactly what qemu-img would have written for
// the project, or a copy would not be a faithful stand-in.
func TestDeriveCopiesWhatQemuImgWrites(t *testing.T) {
	l := sealedBase(t)
	first := derive(t, l, "first")
	entries, err := os.ReadDir(l.DeltaTemplates())
	if err != nil || len(entries) != 1 {
		t.Fatalf("after one create the cache holds %v (%v), want one pair", entries, err)
	}
	second := derive(t, l, "second")
	fresh := filepath.Join(t.TempDir(), "fresh.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
		"-b", l.System().HomeImage, fresh).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	if !bytes.Equal(read(t, second.HomeImage), read(t, fresh)) {
		t.Error("the copied home delta differs from a fresh qemu-img delta")
	}
	if !bytes.Equal(read(t, first.SystemImage), read(t, second.SystemImage)) {
		t.Error("two projects' system deltas differ")
	}
	if bytes.Equal(read(t, second.SystemImage), read(t, second.HomeImage)) {
		t.Error("the system and home deltas are the same file: one points at the wrong image")
	}
}

// Each project has a host key of its own, pinned under its alias before
// its guest ever boots.
func TestDeriveMakesEachProjectItsHostKey(t *testing.T) {
	l := sealedBase(t)
	var pins []string
	for _, name := range []string{"a", "b"} {
		m := derive(t, l, name)
		if info, err := os.Stat(m.HostKey); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%s: host key %v, %v; want mode 600", name, info, err)
		}
		pinned := string(read(t, m.KnownHosts))
		if !strings.HasPrefix(pinned, "virtdev-"+name+" ssh-ed25519 ") {
			t.Errorf("%s: known_hosts %q, want the key pinned under virtdev-%s", name, pinned, name)
		}
		pins = append(pins, strings.Fields(pinned)[2])
	}
	if pins[0] == pins[1] {
		t.Error("two projects share a host key")
	}
}

// A rebuilt base is new files; templates of the old one must not be used.
func TestDeriveIgnoresTemplatesOfAnotherBase(t *testing.T) {
	l := sealedBase(t)
	derive(t, l, "before")
	sys := l.System()
	os.Remove(sys.HomeImage)
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", sys.HomeImage, "48M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	after := derive(t, l, "after")
	out, err := exec.Command("qemu-img", "info", "--output=json", after.HomeImage).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"virtual-size": 50331648`)) {
		t.Errorf("the home delta over the rebuilt 48M base has the old size:\n%s", out)
	}
	entries, _ := os.ReadDir(l.DeltaTemplates())
	if len(entries) != 1 {
		t.Errorf("the cache keeps %d entries, want only the current base's", len(entries))
	}
}

// A cache that cannot be written only costs time.
func TestDeriveWithoutWritableCache(t *testing.T) {
	l := sealedBase(t)
	if err := os.WriteFile(l.Cache, nil, 0o644); err != nil { // a file where the directory should be
		t.Fatal(err)
	}
	m := derive(t, l, "p")
	if _, err := os.Stat(m.SystemImage); err != nil {
		t.Fatal(err)
	}
}

// A cached template holding junk is never copied into a project: the copy
// is checked against the checksum recorded with the entry, and on a
// mismatch the deltas are made by qemu-img and the entry made again.
func TestDeriveRebuildsDamagedTemplate(t *testing.T) {
	l := sealedBase(t)
	derive(t, l, "first")
	entries, err := os.ReadDir(l.DeltaTemplates())
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache: %v, %v", entries, err)
	}
	template := filepath.Join(l.DeltaTemplates(), entries[0].Name(), homeTemplate)
	good := read(t, template)
	if err := os.WriteFile(template, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	var warned []string
	warn := func(format string, args ...any) { warned = append(warned, fmt.Sprintf(format, args...)) }
	if err := Derive(context.Background(), l, "second", project.Generation{Number: 1}, sshx.MakeHostKey, warn); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(t, l.Project("second").HomeImage), good) {
		t.Error("the project got the damaged template, not a fresh delta")
	}
	if len(warned) != 1 || !strings.Contains(warned[0], template) {
		t.Errorf("warnings %q, want one naming %s", warned, template)
	}
	if !bytes.Equal(read(t, template), good) {
		t.Error("the cache entry was not made again")
	}
	check := exec.Command("sha256sum", "-c", "--quiet", sumsFile)
	check.Dir = filepath.Dir(template)
	if data, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c of the entry: %v: %s", err, data)
	}
}

// The deltas a seal prepares are made in the cache itself, not in /tmp,
// and what a killed seal left there is removed by the next.
func TestWarm(t *testing.T) {
	l := sealedBase(t)
	leftover := filepath.Join(l.DeltaTemplates(), newPrefix+"123")
	if err := os.MkdirAll(leftover, 0o700); err != nil {
		t.Fatal(err)
	}
	removed, err := Warm(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != leftover {
		t.Errorf("removed %v, want %s", removed, leftover)
	}
	entries, _ := os.ReadDir(l.DeltaTemplates())
	if len(entries) != 1 || !entries[0].IsDir() || strings.HasPrefix(entries[0].Name(), ".") {
		t.Fatalf("cache holds %v, want one entry", entries)
	}
	warned := false
	err = Derive(context.Background(), l, "p", project.Generation{Number: 1}, sshx.MakeHostKey, func(string, ...any) { warned = true })
	if err != nil || warned {
		t.Errorf("Derive from the warmed cache: %v (warned %v)", err, warned)
	}
}

func TestSweepCreates(t *testing.T) {
	l := layout.Layout{Home: t.TempDir()}
	for _, name := range []string{".create-p-1", ".create-my-p-22", ".create-other-3", ".create-busy-4", ".hidden", "p"} {
		if err := os.MkdirAll(filepath.Join(l.Projects(), name, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	held, err := lock.Project(l, "busy", "virtdev-create")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	removed, err := SweepCreates(l, "p", "virtdev-create")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 {
		t.Errorf("removed %v, want the scratch of p, my-p and other", removed)
	}
	entries, _ := os.ReadDir(l.Projects())
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != ".create-busy-4 .hidden p" {
		t.Errorf("left %v, want the busy project's scratch and what is no scratch", left)
	}
}
