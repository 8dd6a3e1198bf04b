//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"virtdev/lib/config"
	"virtdev/lib/layout"
	"virtdev/lib/qemu"
	"virtdev/lib/unit"
)

// netMachine is a project's machine run behind virtdev-net, the way
// virtdev-start is to run it: the QEMU command line lib/qemu builds,
// without its user-mode network card, after virtdev-net's options, as the
// transient unit virtdev-start would start, with the same port file and
// cleanup, so that virtdev-wait, virtdev-ssh and virtdev-stop work on it
// unchanged.
type netMachine struct {
	project string
	unit    string
	port    int
	units   *unit.Manager
}

// getenv looks a variable up as the suite's programs see it.
func (s *suite) getenv(name string) string {
	for i := len(s.env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(s.env[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}

// startBehindNet boots a created project in a network zone and waits for
// its SSH. extra is appended to QEMU's options.
func (s *suite) startBehindNet(t testing.TB, project, zone string, extra ...string) *netMachine {
	t.Helper()
	cfg, err := config.Load(s.getenv)
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := qemu.HostOptions(cfg, s.getenv)
	if err != nil {
		t.Fatal(err)
	}
	m := layout.New(cfg).Project(project)
	port, err := qemu.ChoosePort(qemu.FirstPort, qemu.PortFree)
	if err != nil {
		t.Fatal(err)
	}
	args := qemu.Command{
		Binary: o.QEMU, Name: project, Accel: o.Accel, MemoryMB: o.MemoryMB, CPUs: o.CPUs,
		FirmwareCode: o.Firmware.Code, NVRAM: m.NVRAM, SystemImage: m.SystemImage, HomeImage: m.HomeImage,
		Port: port, Monitor: m.Monitor, Console: m.Console,
	}.Args()
	argv := append([]string{filepath.Join(s.bin, "virtdev-net"), "--net=" + zone, "--ssh-port=" + strconv.Itoa(port), "--"},
		append(withoutUserNetwork(t, args), extra...)...)

	units, err := unit.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nm := &netMachine{project: project, unit: layout.Unit(project), port: port, units: units}
	t.Cleanup(func() {
		ctx := context.Background()
		if st, err := units.Status(ctx, nm.unit); err == nil && st.Running() {
			units.Kill(ctx, nm.unit, syscall.SIGKILL)
			units.WaitDown(ctx, nm.unit)
		}
		units.ResetFailed(ctx, nm.unit)
		units.Close()
	})
	if err := os.WriteFile(m.Port, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = units.StartTransient(context.Background(), nm.unit, unit.Transient{
		Description: "virtdev machine " + project + " behind virtdev-net",
		Command:     argv,
		StopPost:    []string{"/bin/rm", "-f", m.Port, m.Monitor, m.Console},
	})
	if err != nil {
		t.Fatal(err)
	}
	booted := time.Now()
	s.ok(t, 10*time.Minute, "virtdev-wait", project)
	t.Logf("FIGURE boot to SSH behind virtdev-net (zone %s): %s", zone, time.Since(booted).Round(100*time.Millisecond))
	return nm
}

// withoutUserNetwork drops QEMU's built-in user networking and its card
// from a command line, which must have them.
func withoutUserNetwork(t testing.TB, args []string) []string {
	t.Helper()
	var out []string
	dropped := 0
	for i := 0; i < len(args); i++ {
		if i+1 < len(args) && (args[i] == "-netdev" && strings.HasPrefix(args[i+1], "user,") ||
			args[i] == "-device" && strings.HasPrefix(args[i+1], "virtio-net-pci,")) {
			i++
			dropped++
			continue
		}
		out = append(out, args[i])
	}
	if dropped != 2 {
		t.Fatalf("lib/qemu's command line has changed: no -netdev user and virtio-net-pci card to replace in %q", args)
	}
	return out
}

// status reads the machine's unit.
func (nm *netMachine) status(t testing.TB) unit.Status {
	t.Helper()
	st, err := nm.units.Status(context.Background(), nm.unit)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// qemuPID finds QEMU: virtdev-net's only child.
func (nm *netMachine) qemuPID(t testing.TB) int {
	t.Helper()
	main := nm.status(t).MainPID
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", main))
	var children []string
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		children = append(children, strings.Fields(string(b))...)
	}
	if len(children) != 1 {
		t.Fatalf("virtdev-net (pid %d) has children %v, want QEMU alone", main, children)
	}
	pid, _ := strconv.Atoi(children[0])
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); !strings.Contains(filepath.Base(exe), "qemu-system") {
		t.Fatalf("virtdev-net's child %d runs %s, not QEMU", pid, exe)
	}
	return pid
}

// awaitGone waits for processes to end.
func awaitGone(t testing.TB, what string, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		for deadline := time.Now().Add(30 * time.Second); processAlive(pid); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: pid %d still runs", what, pid)
			}
		}
	}
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(after, "Z")
}

// tokenServer is an HTTP-ish server on the host that answers every
// request with its own token, and counts connections.
type tokenServer struct {
	ip       string
	port     int
	token    string
	accepted atomic.Int32
}

func newTokenServer(t testing.TB, ip string) *tokenServer {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ts := &tokenServer{ip: ip, port: l.Addr().(*net.TCPAddr).Port}
	ts.token = fmt.Sprintf("token-%s-%d", strings.ReplaceAll(ip, ".", "_"), ts.port)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			ts.accepted.Add(1)
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 4096)
				c.Read(buf)
				io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"+ts.token+"\n")
			}()
		}
	}()
	return ts
}

// ownAddress is one of the host's addresses other than loopback, or "".
func ownAddress() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil && !ipnet.IP.IsLoopback() {
			return ipnet.IP.String()
		}
	}
	return ""
}

// probeScript fetches from each target from inside the guest, one line
// each: "<name> => <what came back, or the error>".
func probeScript(targets [][3]string) string {
	var b strings.Builder
	b.WriteString(`probe() {
	out=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' "$2" "$3" 2>&1)
	echo "$1 => $(printf %s "$out" | tr '\n' ' ')"
}
`)
	for _, tg := range targets {
		fmt.Fprintf(&b, "probe %s %s %s\n", tg[0], tg[1], tg[2])
	}
	return b.String()
}

// dnsQuery is a DNS client in Perl (the guest has perl-base, no dig): it
// asks a server for A records and prints "rcode=<n> <addresses>".
const dnsQuery = `use IO::Socket::INET;
my ($server, $name) = @ARGV;
my $s = IO::Socket::INET->new(PeerAddr => $server, PeerPort => 53, Proto => 'udp') or die "socket: $!\n";
my $q = pack('n6', 0x5644, 0x0100, 1, 0, 0, 0) . join('', map { chr(length) . $_ } split /\./, $name) . "\0" . pack('n2', 1, 1);
$s->send($q) or die "send: $!\n";
my $rin = ''; vec($rin, fileno($s), 1) = 1;
select($rin, undef, undef, 10) or die "no answer\n";
$s->recv(my $r, 1500);
my (undef, $flags, undef, $an) = unpack('n4', $r);
my $off = 12;
$off++ while substr($r, $off, 1) ne "\0";
$off += 5;
my @ips;
for (1 .. $an) {
	if ((ord(substr($r, $off, 1)) & 0xc0) == 0xc0) { $off += 2 } else { $off++ while substr($r, $off, 1) ne "\0"; $off++ }
	my ($type, undef, undef, $len) = unpack('n n N n', substr($r, $off, 10));
	$off += 10;
	push @ips, join('.', unpack('C4', substr($r, $off, 4))) if $type == 1 && $len == 4;
	$off += $len;
}
print "rcode=", $flags & 15, " @ips\n";
`

// TestNetworkZones boots a guest behind virtdev-net in each zone and tries
// to reach test servers on the host's 127.0.0.1, on a second loopback
// address and on the host's own address, by every way there is: the
// gateway and DNS address, the address that stands for the host, the
// host's own address, IP literals, a private name and names that resolve
// to loopback. Under wan and none nothing gets through; under full the
// host's 127.0.0.1 and own address do. SSH comes in under every zone. Each
// zone's machine is then ended another way (virtdev-stop; SIGTERM to the
// unit, as virtdev-stop's escalation sends; SIGKILL to virtdev-net alone),
// and QEMU and virtdev-net must end together.
func TestNetworkZones(t *testing.T) {
	s := newSuite(t)
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")

	loopback := newTokenServer(t, "127.0.0.1")
	second := newTokenServer(t, "127.0.0.2")
	servers := []*tokenServer{loopback, second}
	own := ownAddress()
	var onOwn *tokenServer
	if own != "" {
		onOwn = newTokenServer(t, own)
		servers = append(servers, onOwn)
	} else {
		t.Log("the host has no address but loopback: the own-address probes are skipped")
	}

	type target struct {
		name, host  string
		server      *tokenServer // whose token means the probe got through
		port        int          // where the probe goes, when not the server's own port
		fullReaches bool
	}
	targets := []target{
		{name: "gateway-to-127.0.0.1", host: "192.168.127.1", server: loopback, fullReaches: true},
		{name: "host-address-to-127.0.0.1", host: "192.168.127.254", server: loopback, fullReaches: true},
		{name: "gateway-to-127.0.0.2", host: "192.168.127.1", server: second},
		{name: "host-address-to-127.0.0.2", host: "192.168.127.254", server: second},
		{name: "literal-127.0.0.1", host: "127.0.0.1", server: loopback},
		{name: "literal-127.0.0.2", host: "127.0.0.2", server: second},
		{name: "private-name-_gateway", host: "_gateway", server: loopback, fullReaches: true},
		{name: "loopback-name-localhost", host: "localhost", server: loopback},
	}
	if onOwn != nil {
		targets = append(targets,
			target{name: "own-address-literal", host: own, server: onOwn, fullReaches: true},
			target{name: "own-address-to-127.0.0.1", host: own, server: loopback},
		)
	}
	var probes [][3]string
	for _, tg := range targets {
		probes = append(probes, [3]string{tg.name, tg.host, strconv.Itoa(tg.server.port)})
	}
	probes = append(probes, [3]string{"public-9.9.9.9", "9.9.9.9", "80"})
	script := probeScript(probes)

	for _, zone := range []string{"wan", "none", "full"} {
		t.Run(zone, func(t *testing.T) {
			project := "net-" + zone
			s.ok(t, time.Minute, "virtdev-create", project)
			before := make([]int32, len(servers))
			for i, srv := range servers {
				before[i] = srv.accepted.Load()
			}
			nm := s.startBehindNet(t, project, zone)

			if addrs := s.ok(t, time.Minute, "virtdev-ssh", project, "hostname", "-I"); !strings.Contains(addrs, "192.168.127.2") {
				t.Errorf("the guest's addresses are %q, want 192.168.127.2 by DHCP", addrs)
			}
			out := s.ok(t, 5*time.Minute, "virtdev-ssh", project, "--", "bash", "-c", shellQuote(script))
			results := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if name, got, ok := strings.Cut(line, " => "); ok {
					results[name] = got
				}
			}
			for _, tg := range targets {
				got, ok := results[tg.name]
				if !ok {
					t.Errorf("%s: no result in %q", tg.name, out)
					continue
				}
				reached := strings.Contains(got, tg.server.token)
				want := zone == "full" && tg.fullReaches
				if reached != want {
					t.Errorf("zone %s, %s (%s:%d): reached %v, want %v; got %q", zone, tg.name, tg.host, tg.server.port, reached, want, got)
				}
			}
			if got := results["public-9.9.9.9"]; zone == "none" && !strings.Contains(got, "Connection refused") {
				t.Errorf("zone none, 9.9.9.9:80: got %q, want the connection refused at once", got)
			}
			if zone != "full" {
				for i, srv := range servers {
					if n := srv.accepted.Load() - before[i]; n != 0 {
						t.Errorf("zone %s: the server on %s:%d saw %d connections from the guest", zone, srv.ip, srv.port, n)
					}
				}
			}

			answer := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-ssh", project, "--", "perl", "-e", shellQuote(dnsQuery), "192.168.127.1", "localhost"))
			wantDNS := "rcode=3"
			if zone == "full" {
				wantDNS = "rcode=0 127.0.0.1"
			}
			if answer != wantDNS {
				t.Errorf("zone %s: DNS at 192.168.127.1 answered %q for localhost (127.0.0.1 in the host's /etc/hosts), want %q", zone, answer, wantDNS)
			}

			switch zone {
			case "wan":
				nm.stopsWithVirtdevStop(t, s)
			case "none":
				nm.endsWhenVirtdevNetIsKilled(t, s)
			case "full":
				nm.endsOnSIGTERM(t)
			}
		})
	}
}

// shellQuote quotes a word for the remote shell virtdev-ssh's command
// runs in.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// stopsWithVirtdevStop: QMP's power button reaches the guest, QEMU exits,
// virtdev-net with it, and virtdev-stop reports a clean stop.
func (nm *netMachine) stopsWithVirtdevStop(t *testing.T, s *suite) {
	main, qemuPID := int(nm.status(t).MainPID), nm.qemuPID(t)
	s.stopsCleanly(t, nm.project)
	awaitGone(t, "after virtdev-stop", qemuPID, main)
	if rec := s.shutdown(t, nm.project); rec.How != "clean" || !rec.Guest {
		t.Errorf("shutdown record %+v, want a clean stop by the guest", rec)
	}
	// A transient unit that ended well is unloaded at once, its exit
	// status with it; one that failed would stay.
	if st := nm.status(t); st.ActiveState != "inactive" {
		t.Errorf("the unit is %s (%s), want inactive", st.ActiveState, st.Ended())
	}
}

// endsWhenVirtdevNetIsKilled: SIGKILL to virtdev-net alone, as the OOM
// killer might send; QEMU must not run on without a network.
func (nm *netMachine) endsWhenVirtdevNetIsKilled(t *testing.T, s *suite) {
	main, qemuPID := int(nm.status(t).MainPID), nm.qemuPID(t)
	if err := syscall.Kill(main, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	awaitGone(t, "after SIGKILL to virtdev-net", main, qemuPID)
	st, err := nm.units.WaitDown(context.Background(), nm.unit)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ended() != "killed by signal 9 (killed)" {
		t.Errorf("the unit's main process ended %q, want killed by SIGKILL", st.Ended())
	}
	port := s.path(t, nm.project, "port")
	if _, err := os.Stat(port); !os.IsNotExist(err) {
		t.Errorf("the port file outlived the machine: %v", err)
	}
	s.refuses(t, stopNotRunning, "not running", "virtdev-stop", nm.project)
}

// endsOnSIGTERM: SIGTERM to every process of the unit, as virtdev-stop
// sends when the guest ignores the power button: both end, and the unit
// ends as it did with QEMU as its main process.
func (nm *netMachine) endsOnSIGTERM(t *testing.T) {
	main, qemuPID := int(nm.status(t).MainPID), nm.qemuPID(t)
	ctx := context.Background()
	if err := nm.units.Kill(ctx, nm.unit, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := nm.units.WaitDown(ctx, nm.unit)
	if err != nil {
		t.Fatal(err)
	}
	awaitGone(t, "after SIGTERM to the unit", main, qemuPID)
	// Inactive, not failed, as with QEMU as the main process (a unit that
	// ended well is unloaded at once, its exit status with it).
	if st.ActiveState != "inactive" || (st.Ended() != "" && st.Ended() != "exit status 0") {
		t.Errorf("the unit is %s after %q, want inactive after QEMU's exit status 0", st.ActiveState, st.Ended())
	}
}
