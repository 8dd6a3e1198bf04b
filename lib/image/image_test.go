package image_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"virtdev/lib/image"
)

func needQemuImg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(image.Tool); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("qemu-img is not installed; CI installs it (.ci/packages: qemu-utils)")
		}
		t.Skip("qemu-img is not installed (Debian: apt install qemu-utils)")
	}
}

func TestCreateDeltaInspectCheck(t *testing.T) {
	needQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	delta := filepath.Join(dir, "delta.qcow2")

	if err := image.Create(ctx, base, "16M"); err != nil {
		t.Fatal(err)
	}
	info, err := image.Inspect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "qcow2" || info.VirtualSize != 16<<20 || info.BackingFilename != "" {
		t.Errorf("base: %+v", info)
	}

	if err := image.CreateDelta(ctx, delta, base); err != nil {
		t.Fatal(err)
	}
	info, err = image.Inspect(ctx, delta)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "qcow2" || info.VirtualSize != 16<<20 || info.BackingFilename != base ||
		info.FullBackingFilename != base || info.BackingFormat != "qcow2" {
		t.Errorf("delta: %+v, want a qcow2 of 16 MiB over %s", info, base)
	}
	for _, path := range []string{base, delta} {
		if err := image.Check(ctx, path); err != nil {
			t.Errorf("Check(%s) = %v", path, err)
		}
	}

	// The base of a project is sealed read-only: the delta is still made
	// and inspected without write access to it.
	if err := os.Chmod(base, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := image.CreateDelta(ctx, filepath.Join(dir, "delta2.qcow2"), base); err != nil {
		t.Errorf("CreateDelta over a read-only base = %v", err)
	}

	flat := filepath.Join(dir, "flat.qcow2")
	if err := image.Convert(ctx, delta, "qcow2", flat); err != nil {
		t.Fatal(err)
	}
	if info, err := image.Inspect(ctx, flat); err != nil || info.BackingFilename != "" || info.VirtualSize != 16<<20 {
		t.Errorf("converted delta: %+v, %v, want a standalone image", info, err)
	}
}

func TestErrors(t *testing.T) {
	needQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()

	garbage := filepath.Join(dir, "garbage.qcow2")
	if err := os.WriteFile(garbage, []byte("QFI\xfbnot really an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := image.Check(ctx, garbage)
	var e *image.Error
	if !errors.As(err, &e) {
		t.Fatalf("Check(garbage) = %v, want an image.Error", err)
	}
	if !strings.Contains(err.Error(), "qemu-img check") || !strings.Contains(err.Error(), garbage) {
		t.Errorf("message does not name the command and file: %v", err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Errorf("the exit status is not in the chain: %v", err)
	}

	missing := filepath.Join(dir, "missing.qcow2")
	if _, err := image.Inspect(ctx, missing); !errors.As(err, &e) || !strings.Contains(e.Output, missing) {
		t.Errorf("Inspect(missing) = %v, want qemu-img's complaint about %s", err, missing)
	}
	if err := image.CreateDelta(ctx, filepath.Join(dir, "d.qcow2"), missing); err == nil {
		t.Error("CreateDelta over a missing base succeeded")
	}
	if err := image.Create(ctx, filepath.Join(dir, "bad.qcow2"), "lots"); !errors.As(err, &e) || e.Output == "" {
		t.Errorf("Create with a bad size = %v, want qemu-img's message", err)
	}
}

func TestMissingTool(t *testing.T) {
	saved := image.Tool
	image.Tool = filepath.Join(t.TempDir(), "no-qemu-img")
	defer func() { image.Tool = saved }()
	err := image.Check(context.Background(), "x.qcow2")
	var e *image.Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "no-qemu-img") {
		t.Errorf("Check with a missing tool = %v", err)
	}
}
