package base

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"virtdev/lib/image"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/testhost"
)

// The test binary doubles as a program that reseals, so that a test can
// have it killed after any step and look at what it left.
const (
	helperRoot   = "BASE_TEST_RESEAL_ROOT"   // the layout's root
	helperStep   = "BASE_TEST_RESEAL_STEP"   // kill after this step...
	helperNth    = "BASE_TEST_RESEAL_NTH"    // ...the nth time it is reached
	helperNoSwap = "BASE_TEST_RESEAL_NOSWAP" // as on a file system that cannot swap
)

func TestMain(m *testing.M) {
	if root := os.Getenv(helperRoot); root != "" {
		os.Exit(resealHelper(root))
	}
	os.Exit(m.Run())
}

func resealHelper(root string) int {
	step, nth := os.Getenv(helperStep), 1
	if n, err := strconv.Atoi(os.Getenv(helperNth)); err == nil {
		nth = n
	}
	reached = func(s string) {
		if s == step {
			if nth--; nth == 0 {
				unix.Kill(os.Getpid(), unix.SIGKILL)
				select {}
			}
		}
	}
	if os.Getenv(helperNoSwap) != "" {
		exchange = noSwap
	}
	if err := Reseal(rootLayout(root), project.Generation{Number: newGeneration}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func noSwap(a, b string) error {
	return &os.LinkError{Op: "renameat2", Old: a, New: b, Err: unix.EINVAL}
}

func rootLayout(root string) layout.Layout {
	return layout.Layout{Home: filepath.Join(root, "data"), Cache: filepath.Join(root, "cache")}
}

// The sealed base and the maintained copy differ in their images' virtual
// sizes, which tell them apart wherever their files end up.
const (
	oldGeneration, newGeneration = 3, 4
	oldSize, newSize             = 1 << 20, 2 << 20
)

// maintained lays out a sealed base and a staging copy of real qcow2
// images, as virtdev-maintain leaves them when it reseals, and returns the
// root of the layout.
func maintained(t *testing.T) (string, layout.Layout) {
	t.Helper()
	image.Tool = testhost.Tool(t, "qemu-img", "qemu-utils")
	root := t.TempDir()
	l := rootLayout(root)
	sys, staging := l.System(), l.Staging()
	for _, b := range []struct {
		base layout.Base
		size int
		mode os.FileMode
	}{{sys, oldSize, SealedMode}, {staging, newSize, 0o644}} {
		if err := os.MkdirAll(b.base.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, img := range []string{b.base.SystemImage, b.base.HomeImage} {
			if err := image.Create(context.Background(), img, strconv.Itoa(b.size)); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(img, b.mode); err != nil {
				t.Fatal(err)
			}
		}
		write(t, b.base.NVRAM, "vars "+strconv.Itoa(b.size), b.mode)
	}
	write(t, sys.Generation, strconv.Itoa(oldGeneration)+"\n", SealedMode)
	// What else the maintenance machine's directory holds stays there.
	write(t, filepath.Join(staging.Dir, "shutdown"), "{}", 0o644)
	return root, l
}

// baseOf tells which base dir holds, by its images' size, and checks that
// the images pass qemu-img check.
func baseOf(t *testing.T, b layout.Base) int {
	t.Helper()
	sizes := map[int64]bool{}
	for _, img := range []string{b.SystemImage, b.HomeImage} {
		if err := image.Check(context.Background(), img); err != nil {
			t.Errorf("%s fails its check: %v", img, err)
		}
		info, err := image.Inspect(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		sizes[info.VirtualSize] = true
	}
	data, err := os.ReadFile(b.NVRAM)
	if err != nil {
		t.Fatal(err)
	}
	for size := range sizes {
		if len(sizes) != 1 || string(data) != "vars "+strconv.Itoa(int(size)) {
			t.Fatalf("%s mixes the files of two bases: image sizes %v, nvram %q", b.Dir, sizes, data)
		}
		return int(size)
	}
	return 0
}

// checkOneBase fails unless system/ is one whole sealed base, the old or
// the new one with its own generation, nothing of a reseal is left beside
// it, and the maintained images are in the staging copy unless they are
// the base. It returns the base's generation.
func checkOneBase(t *testing.T, l layout.Layout) int {
	t.Helper()
	g, ok := complete(l, l.System().Dir)
	if !ok {
		t.Fatalf("system/ is not a whole sealed base (files mode 444, a valid generation)")
	}
	want := map[int]int{oldGeneration: oldSize, newGeneration: newSize}[g.Number]
	if got := baseOf(t, l.System()); want == 0 || got != want {
		t.Fatalf("system/ records generation %s but holds the images of size %d", g, got)
	}
	for _, name := range []string{resealing, retired} {
		if exists(filepath.Join(l.Home, name)) {
			t.Errorf("%s is left beside the base", name)
		}
	}
	staged := 0
	for _, f := range Files(l.Staging()) {
		if exists(f) {
			staged++
			if m := mode(t, f); m != 0o644 {
				t.Errorf("%s is back in the staging copy with mode %04o, want 0644", f, m)
			}
		}
	}
	switch {
	case g.Number == oldGeneration && staged != 3:
		t.Errorf("the old base stays, but only %d of the maintained images are back in the staging copy", staged)
	case g.Number == oldGeneration:
		if got := baseOf(t, l.Staging()); got != newSize {
			t.Errorf("the staging copy holds images of size %d, want the maintained ones", got)
		}
	case staged != 0:
		t.Errorf("the base is resealed, yet %d images are still in the staging copy", staged)
	}
	if !exists(filepath.Join(l.Staging().Dir, "shutdown")) {
		t.Error("the reseal removed what else the staging directory held")
	}
	return g.Number
}

func TestResealReplacesTheBase(t *testing.T) {
	for _, swap := range []bool{true, false} {
		t.Run(fmt.Sprintf("swap=%v", swap), func(t *testing.T) {
			_, l := maintained(t)
			if !swap {
				defer func(e func(a, b string) error) { exchange = e }(exchange)
				exchange = noSwap
			}
			if err := Reseal(l, project.Generation{Number: newGeneration}); err != nil {
				t.Fatal(err)
			}
			if g := checkOneBase(t, l); g != newGeneration {
				t.Errorf("generation %d after the reseal, want %d", g, newGeneration)
			}
			if r, err := Recover(l); err != nil || len(r.Done) > 0 {
				t.Errorf("Recover after a whole reseal did %q (%v), want nothing", r.Done, err)
			}
		})
	}
}

func TestResealFailureKeepsTheBase(t *testing.T) {
	_, l := maintained(t)
	if err := os.Remove(l.Staging().NVRAM); err != nil {
		t.Fatal(err)
	}
	err := Reseal(l, project.Generation{Number: newGeneration})
	var failed *ResealingError
	if !errors.As(err, &failed) {
		t.Fatalf("Reseal without the staged nvram: %v, want a *ResealingError", err)
	}
	if g, ok := complete(l, l.System().Dir); !ok || g.Number != oldGeneration || baseOf(t, l.System()) != oldSize {
		t.Errorf("the base changed after a failed reseal")
	}
	for _, img := range []string{l.Staging().SystemImage, l.Staging().HomeImage} {
		if mode(t, img) != 0o644 {
			t.Errorf("%s is not back in the staging copy, writable", img)
		}
	}
	if exists(filepath.Join(l.Home, resealing)) {
		t.Error("the failed reseal left its scratch directory")
	}
}

// TestResealKilledAtEveryStep kills a reseal after each of its steps, on
// file systems that swap directories and on those that cannot, and checks
// that Recover then leaves one whole base: the old one when the kill came
// before the new one was whole, the new one after.
func TestResealKilledAtEveryStep(t *testing.T) {
	type kill struct {
		step string
		nth  int
		new  bool // the new base must win
	}
	kills := []kill{
		{ResealStarted, 1, false},
		{ResealMoved, 1, false}, {ResealMoved, 2, false}, {ResealMoved, 3, false},
		{ResealNumbered, 1, false}, {ResealModes, 1, false},
		{ResealAssembled, 1, true}, {ResealRetired, 1, true},
		{ResealCommitted, 1, true}, {ResealDone, 1, true},
	}
	for _, swap := range []bool{true, false} {
		for _, k := range kills {
			if swap && k.step == ResealRetired {
				continue // only a reseal that cannot swap retires the old base
			}
			t.Run(fmt.Sprintf("swap=%v/%s#%d", swap, k.step, k.nth), func(t *testing.T) {
				root, l := maintained(t)
				runKilled(t, root, k.step, k.nth, swap)
				r, err := Recover(l)
				if err != nil {
					t.Fatalf("Recover: %v", err)
				}
				t.Logf("recovery: %s", strings.Join(r.Done, "; "))
				want := oldGeneration
				if k.new {
					want = newGeneration
				}
				if g := checkOneBase(t, l); g != want {
					t.Errorf("generation %d after the recovery, want %d", g, want)
				}
				if r, err := Recover(l); err != nil || len(r.Done) > 0 {
					t.Errorf("a second Recover did %q (%v), want nothing", r.Done, err)
				}
			})
		}
	}
}

// runKilled reseals in another process that kills itself after the nth
// time it reaches step, and fails unless it did.
func runKilled(t *testing.T, root, step string, nth int, swap bool) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperRoot+"="+root, helperStep+"="+step, helperNth+"="+strconv.Itoa(nth))
	if !swap {
		cmd.Env = append(cmd.Env, helperNoSwap+"=1")
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the reseal was to be killed after %s #%d, but ended with %v:\n%s", step, nth, err, out)
	}
}

func TestSealedNamesAnInterruptedReseal(t *testing.T) {
	root, l := maintained(t)
	runKilled(t, root, ResealRetired, 1, false)
	_, err := Sealed(l)
	if err == nil || !strings.Contains(err.Error(), "interrupted reseal") || !strings.Contains(err.Error(), retired) {
		t.Errorf("Sealed between the two renames: %v, want it to name the interrupted reseal", err)
	}
}

func TestRecoverFinishesRemovingTheOldBase(t *testing.T) {
	_, l := maintained(t)
	if err := Reseal(l, project.Generation{Number: newGeneration}); err != nil {
		t.Fatal(err)
	}
	// A removal of the old base cut short leaves some of its files.
	write(t, filepath.Join(l.Home, resealing, "nvram"), "vars", SealedMode)
	r, err := Recover(l)
	if err != nil || len(r.Done) != 1 {
		t.Fatalf("Recover: %q, %v", r.Done, err)
	}
	if g := checkOneBase(t, l); g != newGeneration {
		t.Errorf("generation %d, want %d", g, newGeneration)
	}
}
