//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"virtdev/lib/config"
	"virtdev/lib/egress"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/qemu"
	"virtdev/lib/unit"
)

// transferSize is what each round pushes into the guest over SSH.
const transferSize = 200 << 20

// ttfbSamples is how many requests each round times through each network.
const ttfbSamples = 10

// BenchmarkNetwork weighs the machine's network (lib/netstack, run by
// virtdev-supervise) against QEMU's built-in user networking on the same
// guest in the same boot: the machine gets both network cards, the
// supervisor's (zone full, the one zone where a host server on 127.0.0.1
// may be reached, as the built-in networking always allowed) and a
// user-mode one with its own SSH forward. Each iteration pushes 200 MB
// into the guest over SSH through each forward, the first alternating, and
// times the first byte of requests from the guest to a server on the
// host's 127.0.0.1, through 10.0.2.2 and through 192.168.127.1,
// interleaved. Run it with bench/netstack.sh.
func BenchmarkNetwork(b *testing.B) {
	s := newSuite(b)
	s.installation(b)
	s.ok(b, time.Minute, "virtdev-seal")
	const project = "net-bench"
	s.ok(b, time.Minute, "virtdev-create", project)
	userPort := freeLoopbackPort(b)
	stackPort := s.startWithUserNetworkToo(b, project, userPort)
	server := newTokenServer(b, "127.0.0.1")
	ports := map[string]int{"user": userPort, "stack": stackPort}
	// Where the guest finds the host's 127.0.0.1 through each network.
	gateways := map[string]string{"user": "10.0.2.2", "stack": "192.168.127.1"}
	key := filepath.Join(s.root, "data", "ssh", "id")

	seconds := map[string]float64{}
	ttfb := map[string][]float64{}
	round := 0
	for b.Loop() {
		order := []string{"user", "stack"}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		round++
		for _, via := range order {
			took := transfer(b, key, ports[via])
			seconds[via] += took.Seconds()
			b.Logf("round %d: 200 MB over SSH through %s networking in %s (%.1f MB/s)", round, via, took.Round(time.Millisecond), transferSize/1e6/took.Seconds())
		}
		for via, ms := range firstBytes(b, key, stackPort, gateways, server) {
			ttfb[via] = append(ttfb[via], ms...)
		}
	}
	for _, via := range []string{"user", "stack"} {
		b.ReportMetric(float64(round)*transferSize/1e6/seconds[via], via+"-MB/s")
		b.ReportMetric(median(ttfb[via]), via+"-ttfb-ms")
	}
	b.ReportMetric(seconds["user"]/seconds["stack"], "stack/user-throughput")
}

// startWithUserNetworkToo boots a created project in zone full as
// virtdev-start would, under its supervisor, but with a second network
// card on QEMU's built-in user networking, whose SSH forward is on
// userPort; it waits for SSH and returns the machine's own SSH port.
// virtdev-start has no way to add a card, so the unit is started here,
// with the command line lib/qemu builds.
func (s *suite) startWithUserNetworkToo(b *testing.B, name string, userPort int) int {
	b.Helper()
	getenv := func(name string) string {
		for i := len(s.env) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(s.env[i], "="); ok && k == name {
				return v
			}
		}
		return ""
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		b.Fatal(err)
	}
	o, _, err := qemu.HostOptions(cfg, getenv)
	if err != nil {
		b.Fatal(err)
	}
	m := layout.New(cfg).Project(name)
	port, err := qemu.ChoosePort(qemu.FirstPort, qemu.PortFree)
	if err != nil {
		b.Fatal(err)
	}
	args := qemu.Command{
		Binary: o.QEMU, Name: name, Accel: o.Accel, MemoryMB: o.MemoryMB, CPUs: o.CPUs,
		FirmwareCode: o.Firmware.Code, NVRAM: m.NVRAM, SystemImage: m.SystemImage, HomeImage: m.HomeImage,
		HostKey: filepath.Base(m.HostKey), Monitor: filepath.Base(m.Monitor), Console: filepath.Base(m.Console),
		Events: filepath.Base(m.Events), PidFile: filepath.Base(m.QEMUPid),
	}.Args()
	args = append(args,
		"-netdev", fmt.Sprintf("user,id=builtin,hostfwd=tcp:127.0.0.1:%d-:22", userPort),
		"-device", "virtio-net-pci,netdev=builtin,romfile=,mac=52:54:00:12:34:57")
	argv := append([]string{filepath.Join(s.bin, "virtdev-supervise"), "--net=full", "--ssh-port=" + strconv.Itoa(port), "--"}, args...)
	if err := project.WriteZone(m, egress.Full); err != nil {
		b.Fatal(err)
	}
	if err := project.WritePort(m, port); err != nil {
		b.Fatal(err)
	}
	units, err := unit.Connect(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer units.Close()
	err = units.StartTransient(context.Background(), layout.Unit(name), unit.Transient{
		Description: "virtdev machine " + name + " with user networking too",
		Command:     argv,
		Dir:         m.Dir,
		Notify:      true,
		StopPost:    []string{"/bin/rm", "-f", m.Port, m.Zone, m.Monitor, m.Console, m.Events, m.QEMUPid},
	})
	if err != nil {
		b.Fatal(err)
	}
	s.ok(b, 10*time.Minute, "virtdev-wait", name)
	return port
}

func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sshArgs reaches the guest's dev user through a forward on 127.0.0.1.
func sshArgs(key string, port int) []string {
	return []string{"-i", key, "-p", strconv.Itoa(port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "dev@127.0.0.1"}
}

// transfer pushes transferSize bytes into the guest over SSH.
func transfer(t testing.TB, key string, port int) time.Duration {
	t.Helper()
	ssh := "ssh " + strings.Join(sshArgs(key, port), " ") + " 'cat > /dev/null'"
	cmd := exec.Command("sh", "-c", fmt.Sprintf("head -c %d /dev/zero | %s", transferSize, ssh))
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("transfer through port %d: %v\n%s", port, err, out)
	}
	return time.Since(start)
}

// firstBytes times, from inside the guest, requests to the server through
// each gateway, interleaved, and returns milliseconds by network.
func firstBytes(t testing.TB, key string, sshPort int, gateways map[string]string, server *tokenServer) map[string][]float64 {
	t.Helper()
	script := fmt.Sprintf(`for i in $(seq %[1]d); do
	hosts="%[2]s %[3]s"; [ $((i %% 2)) = 0 ] && hosts="%[3]s %[2]s"
	for h in $hosts; do
		start=$EPOCHREALTIME
		exec 3<>/dev/tcp/$h/%[4]d
		printf 'GET / HTTP/1.0\r\n\r\n' >&3
		IFS= read -r -n1 c <&3
		end=$EPOCHREALTIME
		exec 3<&-
		echo "$h $start $end"
	done
done`, ttfbSamples, gateways["user"], gateways["stack"], server.port)
	out, err := exec.Command("ssh", append(sshArgs(key, sshPort), "bash -c "+shellQuote(script))...).CombinedOutput()
	if err != nil {
		t.Fatalf("timing requests from the guest: %v\n%s", err, out)
	}
	byHost := map[string]string{}
	for via, h := range gateways {
		byHost[h] = via
	}
	ms := map[string][]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("unexpected timing line %q in:\n%s", line, out)
		}
		start, err1 := strconv.ParseFloat(f[1], 64)
		end, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("unexpected timing line %q", line)
		}
		ms[byHost[f[0]]] = append(ms[byHost[f[0]]], (end-start)*1000)
	}
	return ms
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
