package netstack

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"virtdev/lib/egress"
)

// run runs a shell script as Run's QEMU; the script sees QEMUArgs as its
// arguments.
func run(t *testing.T, ctx context.Context, script string) (Exit, error) {
	t.Helper()
	return Run(ctx, zoneConfig(t, egress.WAN), []string{"/bin/sh", "-c", script, "qemu"}, io.Discard, os.Stderr)
}

func TestRunHandsQEMUTheLink(t *testing.T) {
	script := `[ -S /dev/fd/3 ] || exit 10
[ "$*" = "` + strings.Join(QEMUArgs, " ") + `" ] || exit 11
exit 0`
	exit, err := run(t, context.Background(), script)
	if err != nil || exit != (Exit{}) {
		t.Fatalf("got %v, %v; want exit status 0 (10: no socket on fd 3, 11: wrong arguments)", exit, err)
	}
}

func TestRunEndsAsQEMUDid(t *testing.T) {
	for script, want := range map[string]Exit{
		"exit 7":                            {Status: 7},
		"kill -KILL $$":                     {Signal: syscall.SIGKILL},
		"kill -TERM $$":                     {Signal: syscall.SIGTERM},
		"exec 3>&-; sleep 0.1":              {}, // a hang-up as QEMU exits is no failure
		"trap 'exit 3' USR1; kill -USR1 $$": {Status: 3},
	} {
		exit, err := run(t, context.Background(), script)
		if err != nil || exit != want {
			t.Errorf("%s: got %v, %v; want %v", script, exit, err, want)
		}
	}
}

func TestRunPassesSIGTERMOnAndWaits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	// QEMU takes its time to exit after SIGTERM; Run waits for it.
	exit, err := run(t, ctx, `trap 'kill $!; sleep 1; exit 42' TERM; sleep 30 & wait`)
	if err != nil || exit != (Exit{Status: 42}) {
		t.Fatalf("got %v, %v; want exit status 42 from the trap", exit, err)
	}
}

func TestRunStopsQEMUWhenTheNetworkFails(t *testing.T) {
	start := time.Now()
	exit, err := run(t, context.Background(), `exec 3>&-; trap 'kill $!; exit 9' TERM; sleep 30 & wait`)
	var ne *NetworkError
	if !errors.As(err, &ne) || ne.QEMU != (Exit{Status: 9}) {
		t.Fatalf("got %v, %v; want a *NetworkError after QEMU's SIGTERM trap (exit 9)", exit, err)
	}
	if took := time.Since(start); took > hangupGrace+5*time.Second {
		t.Errorf("QEMU was stopped after %s", took)
	}
}

func TestRunReportsWhatCannotStart(t *testing.T) {
	_, err := Run(context.Background(), zoneConfig(t, egress.WAN), []string{"/nonexistent/qemu"}, io.Discard, io.Discard)
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "/nonexistent/qemu") {
		t.Fatalf("got %v, want a *StartError naming the program", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := Config{Policy: egress.Policy{Zone: egress.WAN}, SSHPort: l.Addr().(*net.TCPAddr).Port}
	_, err = Run(context.Background(), cfg, []string{"/bin/true"}, io.Discard, io.Discard)
	var pe *PortError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *PortError", err)
	}
}

// TestQEMUDiesWithRun kills a process running Run with SIGKILL, as the
// OOM killer might: its QEMU must not be left running without a network.
func TestQEMUDiesWithRun(t *testing.T) {
	if os.Getenv("NETSTACK_HELPER_PIDFILE") != "" {
		return // the helper's own run of the test binary, see below
	}
	pidFile := filepath.Join(t.TempDir(), "qemu.pid")
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperRun$")
	helper.Env = append(os.Environ(), "NETSTACK_HELPER_PIDFILE="+pidFile)
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	var qemu int
	for deadline := time.Now().Add(10 * time.Second); qemu == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the helper's QEMU did not start")
		}
		b, _ := os.ReadFile(pidFile)
		qemu, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	helper.Process.Kill()
	helper.Wait()
	for deadline := time.Now().Add(5 * time.Second); alive(qemu); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(qemu, syscall.SIGKILL)
			t.Fatalf("QEMU (pid %d) outlived the process that ran it", qemu)
		}
	}
}

// TestHelperRun is the process TestQEMUDiesWithRun kills.
func TestHelperRun(t *testing.T) {
	pidFile := os.Getenv("NETSTACK_HELPER_PIDFILE")
	if pidFile == "" {
		t.Skip("only run by TestQEMUDiesWithRun")
	}
	run(t, context.Background(), `echo $$ > `+pidFile+`.tmp && mv `+pidFile+`.tmp `+pidFile+` && exec sleep 60`)
}

// alive tells whether a process runs; a zombie nobody reaped does not.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(after, "Z")
}

// TestMirror runs Mirror in helper processes and looks at how they ended.
func TestMirror(t *testing.T) {
	if e := os.Getenv("NETSTACK_MIRROR"); e != "" {
		return // the helper's own run of the test binary, see TestHelperMirror
	}
	for _, c := range []struct {
		exit     string
		signaled syscall.Signal
		status   int
	}{
		{"status 3", 0, 3},
		{"signal 15", syscall.SIGTERM, 0},
		{"signal 9", syscall.SIGKILL, 0},
		// The runtime would print a trace for these: a shell's number instead.
		{"signal 11", 0, 128 + 11},
		{"signal 6", 0, 128 + 6},
	} {
		helper := exec.Command(os.Args[0], "-test.run=^TestHelperMirror$")
		helper.Env = append(os.Environ(), "NETSTACK_MIRROR="+c.exit)
		err := helper.Run()
		ws := helper.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case c.signaled != 0 && (!ws.Signaled() || ws.Signal() != c.signaled):
			t.Errorf("QEMU's %s: the helper ended %v (%v), want killed by %v", c.exit, ws, err, c.signaled)
		case c.signaled == 0 && (ws.Signaled() || ws.ExitStatus() != c.status):
			t.Errorf("QEMU's %s: the helper ended %v (%v), want exit status %d", c.exit, ws, err, c.status)
		}
	}
}

// TestHelperMirror ends as TestMirror tells it QEMU did.
func TestHelperMirror(t *testing.T) {
	how := os.Getenv("NETSTACK_MIRROR")
	if how == "" {
		t.Skip("only run by TestMirror")
	}
	kind, n, _ := strings.Cut(how, " ")
	number, _ := strconv.Atoi(n)
	e := Exit{Status: number}
	if kind == "signal" {
		e = Exit{Signal: syscall.Signal(number)}
	}
	os.Exit(e.Mirror())
}
