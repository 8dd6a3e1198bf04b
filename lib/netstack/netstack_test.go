package netstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"virtdev/lib/egress"
)

// freePort finds a port on 127.0.0.1 nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func zoneConfig(t *testing.T, zone egress.Zone) Config {
	return Config{Policy: egress.Policy{Zone: zone}, SSHPort: freePort(t)}
}

// hostServer is a TCP service on the host that answers every connection
// with its token, and counts them.
type hostServer struct {
	port     uint16
	token    string
	accepted atomic.Int32
}

func newHostServer(t *testing.T, ip string) *hostServer {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h := &hostServer{port: uint16(l.Addr().(*net.TCPAddr).Port), token: "host service on " + l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.accepted.Add(1)
			io.WriteString(c, h.token+"\n")
			c.Close()
		}
	}()
	return h
}

// reach tries to read a host server's token from inside the guest.
func (g *testGuest) reach(to netip.AddrPort) (string, error) {
	c, err := g.dial(to, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestSSHForwardWorksInEveryZone(t *testing.T) {
	for _, zone := range egress.Zones {
		t.Run(string(zone), func(t *testing.T) {
			network, guest := newTestGuest(t, zoneConfig(t, zone))
			sshd, err := guest.listen(SSHPort)
			if err != nil {
				t.Fatal(err)
			}
			defer sshd.Close()
			go func() {
				c, err := sshd.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				// An echo until the client half-closes, then a word of its own.
				io.Copy(c, c)
				io.WriteString(c, "bye")
			}()

			c, err := net.Dial("tcp", network.SSHAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if network.SSHAddr().(*net.TCPAddr).IP.String() != "127.0.0.1" {
				t.Errorf("the SSH forward listens on %s, not on loopback only", network.SSHAddr())
			}
			payload := strings.Repeat("SSH-2.0-test ", 100000)
			go func() {
				io.WriteString(c, payload)
				c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != payload+"bye" {
				t.Errorf("got %d bytes back, want the %d sent and \"bye\"", len(got), len(payload))
			}
		})
	}
}

func TestHostLoopbackOnlyInZoneFull(t *testing.T) {
	server := newHostServer(t, "127.0.0.1")
	for _, zone := range egress.Zones {
		t.Run(string(zone), func(t *testing.T) {
			var logged strings.Builder
			var mu sync.Mutex
			cfg := zoneConfig(t, zone)
			cfg.Log = func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintf(&logged, format+"\n", args...)
			}
			_, guest := newTestGuest(t, cfg)
			before := server.accepted.Load()
			for _, via := range []string{egress.GatewayIP, egress.HostIP} {
				to := netip.AddrPortFrom(netip.MustParseAddr(via), server.port)
				start := time.Now()
				got, err := guest.reach(to)
				if zone == egress.Full {
					if err != nil || got != server.token {
						t.Errorf("%s: got %q, %v; want the host service's token", to, got, err)
					}
					continue
				}
				if err == nil {
					t.Errorf("%s reached the host's loopback: %q", to, got)
				}
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("%s: refused after %s, not at once", to, took)
				}
				mu.Lock()
				if !strings.Contains(logged.String(), "refused the guest's tcp connection to "+to.String()) {
					t.Errorf("%s: refusal not reported; log:\n%s", to, logged.String())
				}
				mu.Unlock()
			}
			if zone != egress.Full && server.accepted.Load() != before {
				t.Errorf("the host service saw %d connections", server.accepted.Load()-before)
			}
		})
	}
}

func TestNoneRefusesPublicAddresses(t *testing.T) {
	_, guest := newTestGuest(t, zoneConfig(t, egress.None))
	start := time.Now()
	if _, err := guest.dial(netip.MustParseAddrPort("9.9.9.9:443"), 5*time.Second); err == nil {
		t.Fatal("zone none let the guest connect to 9.9.9.9")
	}
	// Refused before any dial: no route to the internet is needed to
	// tell, and no timeout passes.
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("refused after %s, not at once", took)
	}
}

func TestUDPToTheHostOnlyInZoneFull(t *testing.T) {
	echo, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	var received atomic.Int32
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			received.Add(1)
			echo.WriteTo(buf[:n], from)
		}
	}()
	port := uint16(echo.LocalAddr().(*net.UDPAddr).Port)
	for _, zone := range egress.Zones {
		t.Run(string(zone), func(t *testing.T) {
			_, guest := newTestGuest(t, zoneConfig(t, zone))
			before := received.Load()
			c, err := guest.dialUDP(netip.AddrPortFrom(netip.MustParseAddr(egress.HostIP), port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			wait := 300 * time.Millisecond
			if zone == egress.Full {
				wait = 5 * time.Second
			}
			c.SetDeadline(time.Now().Add(wait))
			if _, err := c.Write([]byte("datagram")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			n, err := c.Read(buf)
			switch {
			case zone == egress.Full && (err != nil || string(buf[:n]) != "datagram"):
				t.Errorf("got %q, %v; want the echo", buf[:n], err)
			case zone != egress.Full && err == nil:
				t.Errorf("the guest got %q from the host's loopback", buf[:n])
			case zone != egress.Full && received.Load() != before:
				t.Errorf("the host's loopback got %d datagrams", received.Load()-before)
			}
		})
	}
}

// fakeResolver answers from a table, and counts the questions.
type fakeResolver struct {
	hosts map[string][]string
	asked atomic.Int32
}

func (r *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.asked.Add(1)
	var addrs []net.IPAddr
	for _, a := range r.hosts[host] {
		addrs = append(addrs, net.IPAddr{IP: net.ParseIP(a)})
	}
	if addrs == nil {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

func (r *fakeResolver) LookupCNAME(_ context.Context, host string) (string, error) {
	r.asked.Add(1)
	return host, nil
}

func (r *fakeResolver) LookupMX(context.Context, string) ([]*net.MX, error) {
	r.asked.Add(1)
	return []*net.MX{{Host: "mail.example.", Pref: 10}}, nil
}

func (r *fakeResolver) LookupNS(context.Context, string) ([]*net.NS, error) {
	r.asked.Add(1)
	return []*net.NS{{Host: "ns.example."}}, nil
}

func (r *fakeResolver) LookupSRV(context.Context, string, string, string) (string, []*net.SRV, error) {
	r.asked.Add(1)
	return "", []*net.SRV{{Target: "srv.example.", Port: 1}}, nil
}

func (r *fakeResolver) LookupTXT(context.Context, string) ([]string, error) {
	r.asked.Add(1)
	return []string{"a secret, maybe"}, nil
}

// query asks the network's DNS server from inside the guest.
func (g *testGuest) query(t *testing.T, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c, err := g.dialUDP(netip.AddrPortFrom(netip.MustParseAddr(egress.GatewayIP), 53))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	conn := &dns.Conn{Conn: c}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if err := conn.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.ReadMsg()
	if err != nil {
		t.Fatalf("no DNS answer for %s: %v", name, err)
	}
	return reply
}

func answers(m *dns.Msg) []string {
	var ips []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	return ips
}

func TestDNSAnswersAsTheZoneAllows(t *testing.T) {
	// As the host's programs ask: no final dot.
	hosts := map[string][]string{
		"loopback.example": {"127.0.0.1"},
		"second.example":   {"127.0.0.2"},
		"private.example":  {"192.168.1.10"},
		"host.example":     {egress.HostIP},
		"mixed.example":    {"10.0.0.1", "8.8.8.8", "169.254.169.254"},
		"public.example":   {"8.8.8.8"},
	}
	want := map[egress.Zone]map[string][]string{
		egress.Full: hosts,
		egress.WAN:  {"mixed.example": {"8.8.8.8"}, "public.example": {"8.8.8.8"}},
		egress.None: {},
	}
	for _, zone := range egress.Zones {
		t.Run(string(zone), func(t *testing.T) {
			upstream := &fakeResolver{hosts: hosts}
			cfg := zoneConfig(t, zone)
			cfg.Resolver = upstream
			_, guest := newTestGuest(t, cfg)
			for name := range hosts {
				reply := guest.query(t, name, dns.TypeA)
				got := answers(reply)
				if !slices.Equal(got, want[zone][name]) {
					t.Errorf("%s: answered %v, want %v", name, got, want[zone][name])
				}
				if len(got) == 0 && reply.Rcode != dns.RcodeNameError {
					t.Errorf("%s: rcode %s, want NXDOMAIN", name, dns.RcodeToString[reply.Rcode])
				}
			}
			txt := guest.query(t, "exfiltrate.example.", dns.TypeTXT)
			if zone == egress.None {
				if len(txt.Answer) != 0 {
					t.Errorf("zone none answered TXT: %v", txt.Answer)
				}
				if n := upstream.asked.Load(); n != 0 {
					t.Errorf("zone none asked the host's resolver %d questions", n)
				}
			} else if len(txt.Answer) != 1 {
				t.Errorf("TXT: answered %v, want the upstream's record", txt.Answer)
			}
		})
	}
}

func TestServeRefusesAMalformedFrame(t *testing.T) {
	network, err := New(zoneConfig(t, egress.None))
	if err != nil {
		t.Fatal(err)
	}
	defer network.Close()
	ours, theirs := testLink(t)
	defer theirs.Close()
	served := make(chan error, 1)
	go func() { served <- network.Serve(ours) }()
	theirs.Write([]byte{0, 0, 0, 5, 1, 2, 3, 4, 5})
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "frame of 5 bytes") {
			t.Errorf("Serve: %v, want the bad frame named", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve took a 5-byte frame")
	}
	if err := network.Serve(ours); err == nil {
		t.Error("a second Serve was accepted")
	}
}

func TestNewRefusesATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = New(Config{Policy: egress.Policy{Zone: egress.WAN}, SSHPort: port})
	var pe *PortError
	if !errors.As(err, &pe) || pe.Port != port {
		t.Fatalf("New on a taken port: %v, want a *PortError for %d", err, port)
	}
}

// Without an SSH port the machine has no forward at all (the installer
// machine): nothing listens for it.
func TestNoSSHPortNoForward(t *testing.T) {
	network, err := New(Config{Policy: egress.Policy{Zone: egress.WAN}})
	if err != nil {
		t.Fatal(err)
	}
	defer network.Close()
	if network.SSHAddr() != nil {
		t.Errorf("the network listens on %s for the guest's SSH", network.SSHAddr())
	}
}

func TestWANRefusesTheRealInterfaces(t *testing.T) {
	own, err := InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range own {
		if err := (egress.Policy{Zone: egress.WAN, HostAddrs: InterfaceAddrs}).Check(a); err == nil {
			t.Errorf("the host's own %s is allowed", a)
		}
	}
}
