//go:build e2e

package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// socketAddressMax is the longest path a Unix socket address holds.
const socketAddressMax = 107

// TestMachine runs a machine whose VIRTDEV_HOME is 150 characters long and
// whose project name has 100, the most a name may have, so that its
// sockets' paths are far beyond what a socket address holds; then makes the
// same machine die early under KVM, where the host offers it.
func TestMachine(t *testing.T) {
	s := newSuiteHome(t, func(root string) string {
		return filepath.Join(root, strings.Repeat("h", 150-len(root)-1))
	})
	if len(s.home) != 150 {
		t.Fatalf("VIRTDEV_HOME %s has %d characters, want 150 (is VIRTDEV_E2E_TMP too long?)", s.home, len(s.home))
	}
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	p := strings.Repeat("p", 100)
	s.ok(t, time.Minute, "virtdev-create", p)

	t.Run("long paths", func(t *testing.T) {
		booted := time.Now()
		s.ok(t, time.Minute, "virtdev-start", p)
		for _, resource := range []string{"monitor", "console", "port"} {
			path := s.path(t, p, resource)
			if _, err := os.Stat(path); err != nil {
				t.Errorf("virtdev-path %s names %s, which is not there: %v", resource, path, err)
			}
			if resource != "port" && len(path) <= socketAddressMax {
				t.Errorf("the %s socket's path has only %d characters: the test proves nothing", resource, len(path))
			}
		}
		s.ok(t, 6*time.Minute, "virtdev-wait", p)
		t.Logf("FIGURE boot to SSH, long paths: %s", time.Since(booted).Round(100*time.Millisecond))
		s.ok(t, time.Minute, "virtdev-ssh", p, "true")
		// The power button is pressed over the monitor's long path.
		s.stopsCleanly(t, p)
		if rec := s.shutdown(t, p); rec.Presses == 0 {
			t.Errorf("shutdown record %+v: no press of the power button", rec)
		}
		for _, name := range []string{"port", "monitor.sock", "events.sock", "console.sock", "qemu.pid", "up"} {
			if _, err := os.Stat(filepath.Join(s.path(t, p), name)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s outlived the machine: %v", name, err)
			}
		}
	})

	t.Run("early death under KVM", func(t *testing.T) {
		if err := kvmUsable(); err != nil {
			if os.Getenv("CI") != "" && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("/dev/kvm is there but not usable (%v); .ci/run gives the test user access to it", err)
			}
			t.Skipf("no usable /dev/kvm here (%v): nothing to run under KVM", err)
		}
		// On a nested host that cannot run KVM guests, OVMF ends in QMP
		// status internal-error within a second.
		kvm := s.with("VIRTDEV_ACCEL=kvm", "VIRTDEV_CPU=host,-arch-capabilities")
		kvm.ok(t, time.Minute, "virtdev-start", p)
		began := time.Now()
		r := s.run(t, time.Minute, "virtdev-wait", p)
		if r.code == 0 {
			s.ok(t, 3*time.Minute, "virtdev-stop", p)
			t.Skip("this host runs KVM guests well: the machine does not die early here")
		}
		s.waitSawFailure(t, r, time.Since(began), "internal-error")
		s.stopsNotRunning(t, p, "internal-error")

		// A QEMU that dies at start under KVM: the message names
		// VIRTDEV_CPU, and nothing is left behind.
		bogus := s.with("VIRTDEV_ACCEL=kvm", "VIRTDEV_CPU=no-such-processor")
		bogus.refuses(t, startBootFailed, "VIRTDEV_CPU", "virtdev-start", p)
		if _, err := os.Stat(s.path(t, p, "port")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the port file outlived a failed start: %v", err)
		}
		// With VIRTDEV_ACCEL=auto, the start goes on under TCG.
		auto := s.with("VIRTDEV_ACCEL=auto", "VIRTDEV_CPU=no-such-processor")
		r = auto.run(t, time.Minute, "virtdev-start", p)
		if r.code != 0 || strings.TrimSpace(r.stdout) == "" || !strings.Contains(r.stderr, "under TCG emulation instead") {
			t.Fatalf("virtdev-start under auto with a processor KVM cannot give: exit %d, stdout %q; want a start under TCG with a warning:\n%s", r.code, r.stdout, r.stderr)
		}
		r = s.with("VIRTDEV_STOP_TIMEOUT=1").run(t, time.Minute, "virtdev-stop", p)
		if r.code != 0 && r.code != stopForced {
			t.Errorf("virtdev-stop: exit %d:\n%s", r.code, r.stderr)
		}
	})
}

// kvmUsable tells whether this user can run KVM machines.
func kvmUsable() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}
