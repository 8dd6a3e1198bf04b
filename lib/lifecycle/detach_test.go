package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/exitcode"
	"virtdev/lib/image"
	"virtdev/lib/layout"
	"virtdev/lib/lifecycle"
	"virtdev/lib/project"
)

// needTools ends a test that lacks a host program: skipped on a developer's
// machine, failed in CI, which installs them all.
func needTools(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; CI installs it (.ci/packages: qemu-utils)", p)
			}
			t.Skipf("%s is not installed (Debian: apt install qemu-utils)", p)
		}
	}
}

func qemuIO(t *testing.T, path, command string) {
	t.Helper()
	if out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", command, path).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io %s: %v\n%s", command, err, out)
	}
}

// attached makes a sealed base of generation 1 and project a over it: each
// disk holds a pattern written into the base, partly overwritten in the
// delta, so that a detached disk shows whether both were carried over.
// It returns copies of the deltas, made beside the project, to compare
// the detached disks with.
func attached(t *testing.T, root string) (layout.Layout, map[string]string) {
	t.Helper()
	needTools(t, "qemu-img", "qemu-io")
	ctx := context.Background()
	l := testLayout(root)
	sys, m := l.System(), l.Project("a")
	for _, dir := range []string{sys.Dir, m.Dir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	originals := map[string]string{}
	for _, d := range []struct{ base, delta string }{{sys.SystemImage, m.SystemImage}, {sys.HomeImage, m.HomeImage}} {
		if err := image.Create(ctx, d.base, "8M"); err != nil {
			t.Fatal(err)
		}
		qemuIO(t, d.base, "write -P 0xab 0 3M")
		if err := image.CreateDelta(ctx, d.delta, d.base); err != nil {
			t.Fatal(err)
		}
		qemuIO(t, d.delta, "write -P 0xcd 2M 2M")
		os.Chmod(d.base, 0o444)
		keep := filepath.Join(root, "original-"+filepath.Base(d.delta))
		data, err := os.ReadFile(d.delta)
		if err != nil {
			t.Fatal(err)
		}
		write(t, keep, string(data))
		originals[d.delta] = keep
	}
	write(t, sys.Generation, "1\n")
	write(t, sys.NVRAM, "firmware")
	write(t, m.Generation, "1\n")
	write(t, m.NVRAM, "variables")
	write(t, m.KnownHosts, "virtdev-a "+hostKey+"\n")
	write(t, filepath.Join(m.Dir, "notes", "deep"), "kept too")
	return l, originals
}

// sameContent fails unless each detached disk is standalone and shows the
// guest what the delta over the base showed it.
func sameContent(t *testing.T, originals map[string]string) {
	t.Helper()
	for disk, original := range originals {
		info, err := image.Inspect(context.Background(), disk)
		if err != nil {
			t.Fatal(err)
		}
		if info.BackingFilename != "" {
			t.Errorf("%s still has the backing file %s", disk, info.BackingFilename)
		}
		if out, err := exec.Command("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", original, disk).CombinedOutput(); err != nil {
			t.Errorf("%s differs from the attached disk: %v\n%s", disk, err, out)
		}
	}
}

// others is the project's tree without its disks and generation: what a
// detach must leave as it was.
func others(t *testing.T, l layout.Layout) tree {
	m := l.Project("a")
	s := snapshot(t, m.Dir)
	for _, f := range []string{m.SystemImage, m.HomeImage, m.Generation} {
		delete(s, f)
	}
	return s
}

func TestDetach(t *testing.T) {
	for _, inPlace := range []bool{false, true} {
		t.Run(map[bool]string{false: "copy", true: "in place"}[inPlace], func(t *testing.T) {
			l, originals := attached(t, t.TempDir())
			kept := others(t, l)
			var progress []string
			o := lifecycle.DetachOptions{InPlace: inPlace, Progress: func(disk string, pct float64) {
				if pct == 100 {
					progress = append(progress, disk)
				}
			}}
			if _, err := lifecycle.CheckAttached(l, "a"); err != nil {
				t.Fatal(err)
			}
			if err := lifecycle.Detach(context.Background(), l, "a", o, t.Errorf); err != nil {
				t.Fatal(err)
			}
			sameContent(t, originals)
			if d := others(t, l).diff(kept); d != "" {
				t.Errorf("the project's other files changed:\n%s", d)
			}
			if g, err := project.ReadGeneration(l.Project("a").Generation, true); err != nil || !g.Detached {
				t.Errorf("generation %v, %v; want detached", g, err)
			}
			slices.Sort(progress)
			if !slices.Equal(slices.Compact(progress), []string{"home", "system"}) {
				t.Errorf("progress reached 100%% for %v, want both disks", progress)
			}
			if lifecycle.Pending(l, "a") {
				t.Error("leftovers beside the project")
			}
			var already *lifecycle.AlreadyDetachedError
			if _, err := lifecycle.CheckAttached(l, "a"); !errors.As(err, &already) {
				t.Errorf("CheckAttached of a detached project = %v", err)
			}
		})
	}
}

// Killed after any step, a detach is undone (before the swap: every file
// of the project as it was, to the byte) or finished (after it).
func TestDetachInterrupted(t *testing.T) {
	steps := lifecycle.Steps["detach"]
	swapped := slices.Index(steps, lifecycle.DetachSwapped)
	for i, step := range steps {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			l, originals := attached(t, root)
			before := snapshot(t, l.Projects())
			kept := others(t, l)
			runKilled(t, root, "detach", step)
			var said messages
			if err := lifecycle.Recover(context.Background(), l, &fakeUnits{}, []string{"a"}, said.report); err != nil {
				t.Fatal(err)
			}
			if i < swapped {
				if d := snapshot(t, l.Projects()).diff(before); d != "" {
					t.Errorf("not undone:\n%s", d)
				}
				if !strings.Contains(said.String(), "before the swap; the project is as it was") {
					t.Errorf("Recover said %q", said)
				}
				return
			}
			sameContent(t, originals)
			if d := others(t, l).diff(kept); d != "" {
				t.Errorf("the project's other files changed:\n%s", d)
			}
			if !strings.Contains(said.String(), "after the detached disks took their place") {
				t.Errorf("Recover said %q", said)
			}
			if lifecycle.Pending(l, "a") {
				t.Error("leftovers beside the project")
			}
		})
	}
}

// An in-place detach killed between the disks goes on where it stopped.
func TestDetachInPlaceResumes(t *testing.T) {
	root := t.TempDir()
	l, originals := attached(t, root)
	runKilled(t, root, "detach-in-place", lifecycle.DetachRebased)
	if _, err := lifecycle.CheckAttached(l, "a"); err != nil {
		t.Fatalf("the generation was written before both disks were rebased: %v", err)
	}
	if err := lifecycle.Detach(context.Background(), l, "a", lifecycle.DetachOptions{InPlace: true}, t.Errorf); err != nil {
		t.Fatal(err)
	}
	sameContent(t, originals)
}

// A disk that cannot be converted leaves the project as it was.
func TestDetachFailureUndone(t *testing.T) {
	l, _ := attached(t, t.TempDir())
	os.WriteFile(l.Project("a").HomeImage, []byte("not an image"), 0o644)
	before := snapshot(t, l.Projects())
	err := lifecycle.Detach(context.Background(), l, "a", lifecycle.DetachOptions{}, t.Errorf)
	var disk *lifecycle.DiskError
	if !errors.As(err, &disk) || disk.Disk != l.Project("a").HomeImage || disk.Verify {
		t.Fatalf("Detach = %v, want a conversion error for the home disk", err)
	}
	if d := snapshot(t, l.Projects()).diff(before); d != "" {
		t.Errorf("a failed detach changed:\n%s", d)
	}
}

func TestCheckAttached(t *testing.T) {
	l := testLayout(t.TempDir())
	write(t, l.Project("a").Generation, "1\n")
	var generation *lifecycle.GenerationError
	if _, err := lifecycle.CheckAttached(l, "b"); !errors.As(err, &generation) {
		t.Errorf("no generation file: %v", err)
	}
	write(t, l.Project("b").Generation, "one\n")
	if _, err := lifecycle.CheckAttached(l, "b"); !errors.As(err, &generation) {
		t.Errorf("a corrupt generation: %v", err)
	}
	if _, err := lifecycle.CheckAttached(l, "a"); exitcode.For(err) != exitcode.NoBase.N {
		t.Errorf("no base: %v", err)
	}
	for _, f := range []string{"system.qcow2", "home.qcow2", "nvram"} {
		write(t, filepath.Join(l.System().Dir, f), "")
	}
	write(t, l.System().Generation, "2\n")
	var outdated *lifecycle.OutdatedError
	if _, err := lifecycle.CheckAttached(l, "a"); !errors.As(err, &outdated) || outdated.Base.Number != 2 {
		t.Errorf("an older generation: %v", err)
	}
	write(t, l.System().Generation, "1\n")
	if g, err := lifecycle.CheckAttached(l, "a"); err != nil || g.Number != 1 {
		t.Errorf("the current generation: %v, %v", g, err)
	}
}
