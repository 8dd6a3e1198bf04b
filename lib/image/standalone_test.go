package image_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"virtdev/lib/image"
)

// overBase makes a delta over a base, each holding data, and returns the
// delta.
func overBase(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	base, delta := filepath.Join(dir, "base.qcow2"), filepath.Join(dir, "delta.qcow2")
	if err := image.Create(ctx, base, "8M"); err != nil {
		t.Fatal(err)
	}
	qemuIO(t, base, "write -P 0xab 0 4M")
	if err := image.CreateDelta(ctx, delta, base); err != nil {
		t.Fatal(err)
	}
	qemuIO(t, delta, "write -P 0xcd 3M 2M")
	return delta
}

// qemuIO writes into an image (qemu-io comes with qemu-img).
func qemuIO(t *testing.T, path, command string) {
	t.Helper()
	if out, err := exec.Command("qemu-io", "-f", "qcow2", "-c", command, path).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io %s: %v\n%s", command, err, out)
	}
}

func standalone(t *testing.T, original, path string) {
	t.Helper()
	info, err := image.Inspect(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if info.BackingFilename != "" {
		t.Errorf("%s still has the backing file %s", path, info.BackingFilename)
	}
	if out, err := exec.Command(image.Tool, "compare", original, path).CombinedOutput(); err != nil {
		t.Errorf("%s differs from %s: %v\n%s", path, original, err, out)
	}
}

func TestFlatten(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	delta := overBase(t, dir)
	var mu sync.Mutex
	var seen []float64
	dst := filepath.Join(dir, "standalone.qcow2")
	err := image.Flatten(context.Background(), delta, dst, func(pct float64) {
		mu.Lock()
		seen = append(seen, pct)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	standalone(t, delta, dst)
	if len(seen) == 0 || seen[len(seen)-1] != 100 {
		t.Errorf("progress %v, want it to end at 100", seen)
	}
	// Without a listener qemu-img is quiet, and the result the same.
	quiet := filepath.Join(dir, "quiet.qcow2")
	if err := image.Flatten(context.Background(), delta, quiet, nil); err != nil {
		t.Fatal(err)
	}
	standalone(t, delta, quiet)
	if err := image.Flatten(context.Background(), filepath.Join(dir, "missing.qcow2"), filepath.Join(dir, "x.qcow2"), func(float64) {}); err == nil {
		t.Error("Flatten of a missing image succeeded")
	}
}

func TestUnbase(t *testing.T) {
	needQemuImg(t)
	dir := t.TempDir()
	delta := overBase(t, dir)
	reference := filepath.Join(dir, "reference.qcow2")
	if err := image.Flatten(context.Background(), delta, reference, nil); err != nil {
		t.Fatal(err)
	}
	if err := image.Unbase(context.Background(), delta, func(float64) {}); err != nil {
		t.Fatal(err)
	}
	standalone(t, reference, delta)
}
