//go:build e2e

package qemu

// The installer machine in real QEMU under real OVMF, booting the tiny
// media of package testmedium: one powers off as a successful installer
// does, one resets as a failing one does, one hangs. Each boots in seconds
// under TCG. Run them with
//
//	cd lib && go test -tags e2e -run InstallReal ./qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"virtdev/lib/config"
	"virtdev/lib/egress"
	"virtdev/lib/firmware"
	"virtdev/lib/image"
	"virtdev/lib/layout"
	"virtdev/lib/netstack"
	"virtdev/lib/qemu/testmedium"
	"virtdev/lib/testhost"
)

// realSupervisorVariable makes the test binary the installer machine's
// supervisor, as virtdev-supervise is (Supervise, with the machine's
// network in the zone its --net names), so that the installer runs as it
// does for virtdev-install without this package's tests building a
// program.
const realSupervisorVariable = "VIRTDEV_TEST_REAL_SUPERVISOR"

func init() {
	if os.Getenv(realSupervisorVariable) == "" {
		return
	}
	zone, ok := strings.CutPrefix(os.Args[1], "--net=")
	if !ok || os.Args[2] != "--" {
		fmt.Fprintf(os.Stderr, "supervisor: want --net=<zone> -- <qemu>..., got %q\n", os.Args[1:])
		os.Exit(64)
	}
	dir, err := os.Getwd()
	if err == nil {
		_, err = Supervise(context.Background(), layout.MachineAt("installer", dir), os.Args[3:], SuperviseOptions{
			Notify: func(string) error { return nil }, Log: os.Stderr, Stdout: os.Stdout, ReadyDeadline: ReadyDeadline,
			Network: func() (Network, error) {
				return netstack.New(netstack.Config{Policy: egress.Policy{Zone: egress.Zone(zone)}})
			},
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "supervisor:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// realInstall prepares an Install of the medium that does action, with
// real QEMU and the host's OVMF.
func realInstall(t *testing.T, action testmedium.Action) (*installFixture, context.Context) {
	t.Helper()
	qemu := testhost.Tool(t, "qemu-system-x86_64", "qemu-system-x86")
	image.Tool = testhost.Tool(t, "qemu-img", "qemu-utils")
	fw, err := firmware.Discover(firmware.HostEnvironment(os.Getenv))
	if err != nil {
		t.Fatal(err)
	}
	requested := os.Getenv("VIRTDEV_ACCEL")
	if requested == "" {
		requested = config.AccelTCG
	}
	accel, _, err := ChooseAccel(requested, KVMUsable)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &installFixture{home: filepath.Join(dir, "home"), console: &syncBuffer{}}
	if err := os.Mkdir(f.home, 0o755); err != nil {
		t.Fatal(err)
	}
	// The defaults of the configuration, as a user without settings has.
	c, err := config.Load(func(name string) string { return map[string]string{"HOME": dir}[name] })
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(realSupervisorVariable, "1")
	f.install = Install{
		QEMU: qemu, Supervisor: exe, Zone: c.MaintenanceNet, Accel: accel, CPU: c.CPU, MemoryMB: 256, CPUs: 1,
		Firmware:   fw,
		Medium:     testmedium.Build(t, dir, action),
		Dest:       layout.Layout{Home: f.home}.Installation(),
		SystemSize: c.SystemDiskSize, HomeSize: c.HomeDiskSize,
		// A safety net: each medium acts within seconds.
		Timeout: 5 * time.Minute,
		Console: f.console,
		Stage:   func(format string, args ...any) { t.Logf(format, args...) },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	t.Cleanup(func() { t.Logf("console:\n%s", f.console.String()) })
	return f, ctx
}

func TestInstallRealPoweroff(t *testing.T) {
	f, ctx := realInstall(t, testmedium.PowerOff)
	begin := time.Now()
	if err := f.install.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("installed in %s", time.Since(begin).Round(time.Millisecond))
	if !strings.Contains(f.console.String(), testmedium.PowerOff.Message()) {
		t.Error("the medium's line did not come through the console")
	}
	if got := f.homeEntries(t); !slices.Equal(got, []string{"installation"}) {
		t.Fatalf("VIRTDEV_HOME holds %q, want only installation", got)
	}
	for _, p := range []string{f.install.Dest.SystemImage, f.install.Dest.HomeImage} {
		if out, err := exec.Command(image.Tool, "check", "-q", p).CombinedOutput(); err != nil {
			t.Errorf("qemu-img check %s: %v\n%s", p, err, out)
		}
	}
	if info, err := os.Stat(f.install.Dest.NVRAM); err != nil || info.Size() == 0 {
		t.Errorf("nvram: %v", err)
	}
}

func TestInstallRealReset(t *testing.T) {
	f, ctx := realInstall(t, testmedium.Reset)
	err := f.install.Run(ctx)
	var failed *InstallFailedError
	if !errors.As(err, &failed) || failed.Reason != "guest-reset" {
		t.Fatalf("Run = %v, want an InstallFailedError for guest-reset", err)
	}
	if !strings.Contains(f.console.String(), testmedium.Reset.Message()) {
		t.Error("the medium's line did not come through the console")
	}
	if got := f.homeEntries(t); len(got) != 0 {
		t.Errorf("a failed installation left %q", got)
	}
}

// An installer that hangs is ended by an interrupt (as by Ctrl-C) once it
// has shown that it runs; QEMU goes, and so does everything made for it.
func TestInstallRealHang(t *testing.T) {
	f, ctx := realInstall(t, testmedium.Hang)
	ctx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	go func() {
		for !strings.Contains(f.console.String(), testmedium.Hang.Message()) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		interrupt()
	}()
	if err := f.install.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled after the interrupt", err)
	}
	if !strings.Contains(f.console.String(), testmedium.Hang.Message()) {
		t.Error("the machine was stopped before the medium ran")
	}
	if got := f.homeEntries(t); len(got) != 0 {
		t.Errorf("an interrupted installation left %q", got)
	}
}
