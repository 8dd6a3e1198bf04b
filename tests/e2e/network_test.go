//go:build e2e

package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Exit codes the network and host key tests pin.
const (
	hostKeyMismatch = 88 // shared: another host key than the pinned one
)

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

// hostServices are the test servers a guest must not reach from zones wan
// and none: on the host's 127.0.0.1, on a second loopback address, and on
// the host's own address when it has one; and every way the guest might
// try to reach them.
type hostServices struct {
	servers []*tokenServer
	targets []target
}

// target is one way to a host server: a name or address, and the server
// whose token means the guest got through.
type target struct {
	name, host  string
	server      *tokenServer
	fullReaches bool // zone full lets the guest through
}

func newHostServices(t *testing.T) *hostServices {
	t.Helper()
	loopback := newTokenServer(t, "127.0.0.1")
	second := newTokenServer(t, "127.0.0.2")
	h := &hostServices{servers: []*tokenServer{loopback, second}}
	h.targets = []target{
		// The gateway and DNS server, and the address that stands for the
		// host in zone full.
		{name: "gateway-to-127.0.0.1", host: "192.168.127.1", server: loopback, fullReaches: true},
		{name: "host-address-to-127.0.0.1", host: "192.168.127.254", server: loopback, fullReaches: true},
		{name: "gateway-to-127.0.0.2", host: "192.168.127.1", server: second},
		{name: "host-address-to-127.0.0.2", host: "192.168.127.254", server: second},
		// IP literals: in the guest they are its own loopback; nothing
		// may carry them to the host's.
		{name: "literal-127.0.0.1", host: "127.0.0.1", server: loopback},
		{name: "literal-127.0.0.2", host: "127.0.0.2", server: second},
		// A private name (systemd-resolved's name of the gateway), and a
		// name that resolves to loopback.
		{name: "private-name-_gateway", host: "_gateway", server: loopback, fullReaches: true},
		{name: "loopback-name-localhost", host: "localhost", server: loopback},
	}
	if own := ownAddress(); own != "" {
		onOwn := newTokenServer(t, own)
		h.servers = append(h.servers, onOwn)
		h.targets = append(h.targets,
			target{name: "own-address-literal", host: own, server: onOwn, fullReaches: true},
			target{name: "own-address-to-127.0.0.1", host: own, server: loopback},
		)
	} else {
		t.Log("the host has no address but loopback: the own-address probes are skipped")
	}
	return h
}

// probeScript fetches from each target from inside the guest, one line
// each: "<name> => <what came back, or the error>"; then asks the
// machine's DNS server for localhost, which the host's /etc/hosts
// resolves to 127.0.0.1: "dns-localhost => rcode=<n> <addresses>"; and
// tries a public address: "public-9.9.9.9 => ...".
func (h *hostServices) probeScript() string {
	var b strings.Builder
	b.WriteString(`probe() {
	out=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' "$2" "$3" 2>&1)
	echo "$1 => $(printf %s "$out" | tr '\n' ' ')"
}
`)
	for _, tg := range h.targets {
		fmt.Fprintf(&b, "probe %s %s %d\n", tg.name, tg.host, tg.server.port)
	}
	b.WriteString("probe public-9.9.9.9 9.9.9.9 80\n")
	fmt.Fprintf(&b, "echo \"dns-localhost => $(perl -e %s 192.168.127.1 localhost 2>&1)\"\n", shellQuote(dnsQuery))
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

// checkZone runs the probes in a running project's guest and holds the
// results to what zone allows: under wan and none no host server is
// reached, by any way, nor sees a connection; under full the host's
// 127.0.0.1 and own address are reached. The machine's DNS answers
// localhost only under full. Under none even a public address is refused
// at once. It also checks the zone recorded beside the port file.
func (h *hostServices) checkZone(t *testing.T, s *suite, project, zone string) {
	t.Helper()
	if got := strings.TrimSpace(s.read(t, filepath.Join(s.path(t, project), "zone"))); got != zone {
		t.Errorf("%s: the zone file says %q, want %q", project, got, zone)
	}
	before := make([]int32, len(h.servers))
	for i, srv := range h.servers {
		before[i] = srv.accepted.Load()
	}
	out := s.ok(t, 5*time.Minute, "virtdev-ssh", project, "--", "bash", "-c", shellQuote(h.probeScript()))
	results := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if name, got, ok := strings.Cut(line, " => "); ok {
			results[name] = got
		}
	}
	for _, tg := range h.targets {
		got, ok := results[tg.name]
		if !ok {
			t.Errorf("zone %s, %s: no result in %q", zone, tg.name, out)
			continue
		}
		reached := strings.Contains(got, tg.server.token)
		if want := zone == "full" && tg.fullReaches; reached != want {
			t.Errorf("zone %s, %s (%s:%d): reached %v, want %v; got %q", zone, tg.name, tg.host, tg.server.port, reached, want, got)
		}
	}
	if got := results["public-9.9.9.9"]; zone == "none" && !strings.Contains(got, "Connection refused") {
		t.Errorf("zone none, 9.9.9.9:80: got %q, want the connection refused at once", got)
	}
	wantDNS := "rcode=3"
	if zone == "full" {
		wantDNS = "rcode=0 127.0.0.1"
	}
	if got := strings.TrimSpace(results["dns-localhost"]); got != wantDNS {
		t.Errorf("zone %s: the machine's DNS answered %q for localhost (127.0.0.1 in the host's /etc/hosts), want %q", zone, got, wantDNS)
	}
	if zone != "full" {
		for i, srv := range h.servers {
			if n := srv.accepted.Load() - before[i]; n != 0 {
				t.Errorf("zone %s: the server on %s:%d saw %d connections from the guest", zone, srv.ip, srv.port, n)
			}
		}
	}
}

// TestZoneWAN runs the probes in the shared machine, which runs in the
// default zone, wan.
func TestZoneWAN(t *testing.T) {
	s, p := sharedMachine(t)
	newHostServices(t).checkZone(t, s, p, "wan")
}

// TestZonesNoneAndFull boots two machines at once: one whose zone file
// names no zone, which therefore runs in the strictest zone, none, with a
// warning; one started with --net=full, with the warning full gets. Each
// is probed. The full one then has its host key replaced in the guest,
// which ssh and wait refuse with their own code; the none one ends with
// its supervisor killed, which takes QEMU and the network with it.
func TestZonesNoneAndFull(t *testing.T) {
	s := newSuite(t)
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	const none, full = "e2e-net-none", "e2e-net-full"
	for _, p := range []string{none, full} {
		s.ok(t, time.Minute, "virtdev-create", p)
	}
	s.write(t, filepath.Join(s.path(t, none, "config"), "net"), "lan\n")
	r := s.run(t, time.Minute, "virtdev-start", none)
	if r.code != 0 || !strings.Contains(r.stderr, `unknown network zone "lan"`) || !strings.Contains(r.stderr, "runs in network zone none") {
		t.Fatalf("virtdev-start of a project whose zone file names no zone: exit %d; want 0 and a warning that it runs in zone none:\n%s", r.code, r.stderr)
	}
	r = s.run(t, time.Minute, "virtdev-start", "--net=full", full)
	if r.code != 0 || !strings.Contains(r.stderr, "runs in network zone full") || !strings.Contains(r.stderr, "127.0.0.1") {
		t.Fatalf("virtdev-start --net=full: exit %d; want 0 and a warning about the host's loopback:\n%s", r.code, r.stderr)
	}
	booted := time.Now()
	var wg sync.WaitGroup
	for _, p := range []string{none, full} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := s.run(t, 10*time.Minute, "virtdev-wait", p); r.code != 0 {
				t.Errorf("virtdev-wait %s exited %d:\n%s", p, r.code, r.stderr)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("FIGURE two machines booted at once, to SSH: %s", time.Since(booted).Round(100*time.Millisecond))

	// virtdev-list tells the zone each machine runs in.
	var list struct {
		Projects []struct {
			Project, Zone string
		} `json:"projects"`
	}
	if err := json.Unmarshal([]byte(s.ok(t, time.Minute, "virtdev-list", "--json")), &list); err != nil {
		t.Fatalf("virtdev-list --json: %v", err)
	}
	zones := map[string]string{}
	for _, e := range list.Projects {
		zones[e.Project] = e.Zone
	}
	if zones[none] != "none" || zones[full] != "full" {
		t.Errorf("virtdev-list --json gives the zones %v; want %s none and %s full", zones, none, full)
	}

	h := newHostServices(t)
	h.checkZone(t, s, none, "none")
	h.checkZone(t, s, full, "full")

	t.Run("the host key virtdev handed the guest", func(t *testing.T) { s.handedHostKey(t, full) })
	t.Run("another key in the guest is refused", func(t *testing.T) { s.replacedHostKey(t, full) })
	t.Run("killing the supervisor ends QEMU and the network", func(t *testing.T) { s.supervisorKilled(t, none) })
}

// handedHostKey: the guest serves the key pinned on the host before its
// first boot, from /run, and only root can read the fw_cfg item it came
// through.
func (s *suite) handedHostKey(t *testing.T, p string) {
	pinned := strings.Fields(s.read(t, filepath.Join(s.path(t, p), "known_hosts")))
	if len(pinned) != 3 || pinned[0] != "virtdev-"+p {
		t.Fatalf("known_hosts pins %q, want one key under virtdev-%s", pinned, p)
	}
	if key := s.hostKey(t, p); key != pinned[2] {
		t.Errorf("the guest serves %q, the host pinned %q", key, pinned[2])
	}
	item := "/sys/firmware/qemu_fw_cfg/by_name/opt/virtdev/ssh_host_ed25519_key/raw"
	out := s.ok(t, time.Minute, "virtdev-ssh", p, "--",
		"stat -c '%a %U' "+item+"; cat "+item+" >/dev/null 2>&1 && echo dev-reads || echo dev-refused; "+
			"sudo cat "+item+" | head -1; ls /etc/ssh | grep -c host_ || true")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	t.Logf("the fw_cfg item in the guest: %q", lines)
	if len(lines) != 4 || lines[0] != "400 root" || lines[1] != "dev-refused" ||
		lines[2] != "-----BEGIN OPENSSH PRIVATE KEY-----" || lines[3] != "0" {
		t.Errorf("in the guest: %q; want the item mode 400, owned by root, unreadable by dev, the key for root, and no host key in /etc/ssh", lines)
	}
}

// replacedHostKey: a guest that serves another key than the pinned one is
// refused by ssh and wait, with the shared code, before any login.
func (s *suite) replacedHostKey(t *testing.T, p string) {
	s.ok(t, time.Minute, "virtdev-ssh", p, "--",
		"sudo ssh-keygen -q -t ed25519 -N '' -C '' -f /run/virtdev/other && "+
			"sudo mv /run/virtdev/other /run/virtdev/ssh_host_ed25519_key && sudo systemctl restart ssh")
	s.refuses(t, hostKeyMismatch, "not the key pinned for "+p, "virtdev-ssh", p, "true")
	s.refuses(t, hostKeyMismatch, "not the key pinned for "+p, "virtdev-wait", p)
	// The power button still works: the machine stops cleanly.
	s.stopsCleanly(t, p)
}

// supervisorKilled: SIGKILL to the supervisor alone, as the OOM killer
// might send; QEMU must not run on without its network, and the unit's
// end removes the runtime files.
func (s *suite) supervisorKilled(t *testing.T, p string) {
	dir := s.path(t, p)
	pidText := strings.TrimSpace(s.read(t, filepath.Join(dir, "qemu.pid")))
	qemuPID, err := strconv.Atoi(pidText)
	if err != nil {
		t.Fatalf("qemu.pid holds %q", pidText)
	}
	supervisor := parentOf(t, qemuPID)
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", supervisor)); filepath.Base(exe) != "virtdev-supervise" {
		t.Fatalf("QEMU's parent %d runs %s, not virtdev-supervise", supervisor, exe)
	}
	if err := syscall.Kill(supervisor, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	awaitGone(t, "after SIGKILL to the supervisor", supervisor, qemuPID)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "port")); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the port file outlived the machine")
		}
	}
	for _, name := range []string{"zone", "up"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("the %s file outlived the machine: %v", name, err)
		}
	}
	s.refuses(t, stopNotRunning, "not running", "virtdev-stop", p)
	// The unit stays failed, as systemd keeps a unit whose main process
	// was killed, until the next virtdev-start resets it.
	if out := s.ok(t, time.Minute, "virtdev-status", p); out != "stopped\n" {
		t.Errorf("virtdev-status after the supervisor was killed: %q, want stopped", out)
	}
}

// parentOf reads a process's parent from /proc.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	fields := strings.Fields(after)
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
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

// TestImpostorRefused points the shared machine's port file at another SSH
// server, as if another program held the machine's port: ssh and wait
// refuse it with the shared code, before any login. The port file is put
// back before the test ends.
func TestImpostorRefused(t *testing.T) {
	s, p := sharedMachine(t)
	impostor := impostorSSH(t)
	portFile := s.path(t, p, "port")
	original := s.read(t, portFile)
	t.Cleanup(func() { os.WriteFile(portFile, []byte(original), 0o644) })
	s.write(t, portFile, strconv.Itoa(impostor.port)+"\n")

	s.refuses(t, hostKeyMismatch, "ss -tlnp 'sport = :"+strconv.Itoa(impostor.port)+"'", "virtdev-ssh", p, "true")
	s.refuses(t, hostKeyMismatch, "not the key pinned for "+p, "virtdev-wait", p)
	if n := impostor.authenticated.Load(); n != 0 {
		t.Errorf("the impostor saw %d login attempts: the key was offered to it", n)
	}
	if err := os.WriteFile(portFile, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	s.ok(t, time.Minute, "virtdev-ssh", p, "true")
}

// sshImpostor is an SSH server with a host key of its own, on the host's
// 127.0.0.1, that counts who tries to log in.
type sshImpostor struct {
	port          int
	authenticated atomic.Int32
}

func impostorSSH(t *testing.T) *sshImpostor {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	imp := &sshImpostor{}
	config := &ssh.ServerConfig{PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) {
		imp.authenticated.Add(1)
		return nil, fmt.Errorf("no")
	}}
	config.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	imp.port = l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				ssh.NewServerConn(c, config)
			}()
		}
	}()
	return imp
}

// shellQuote quotes a word for the remote shell virtdev-ssh's command
// runs in.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
