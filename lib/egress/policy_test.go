package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// noHostAddrs keeps the host's own interfaces out of a test's decisions.
func noHostAddrs() ([]netip.Addr, error) { return nil, nil }

func wan() Policy { return Policy{Zone: WAN, HostAddrs: noHostAddrs} }

func TestWANRefuses(t *testing.T) {
	cases := map[string]string{
		"0.0.0.0":         "unspecified",
		"0.1.2.3":         "this network",
		"10.1.2.3":        "private",
		"100.64.0.1":      "carrier-grade NAT",
		"100.127.255.255": "carrier-grade NAT",
		"127.0.0.1":       "loopback",
		"127.0.0.2":       "loopback",
		"127.255.255.254": "loopback",
		"169.254.169.254": "link-local",
		"172.16.0.1":      "private",
		"172.31.255.255":  "private",
		"192.0.0.170":     "IETF",
		"192.0.2.2":       "documentation",
		"192.88.99.1":     "6to4 relay",
		"192.168.127.1":   "private",
		"192.168.127.254": "private",
		"198.18.0.1":      "benchmarking",
		"198.19.255.255":  "benchmarking",
		"198.51.100.7":    "documentation",
		"203.0.113.80":    "documentation",
		"224.0.0.251":     "multicast",
		"239.255.255.250": "multicast",
		"240.0.0.1":       "reserved",
		"255.255.255.255": "broadcast",

		"::":                     "unspecified",
		"::1":                    "loopback",
		"::127.0.0.1":            "IPv4-compatible",
		"::8.8.8.8":              "IPv4-compatible",
		"::ffff:127.0.0.1":       "IPv4-mapped address of 127.0.0.1, loopback",
		"::ffff:10.0.0.1":        "private",
		"::ffff:192.168.127.254": "private",
		"::ffff:0:8.8.8.8":       "IPv4-translated",
		"64:ff9b::127.0.0.1":     "NAT64 address of 127.0.0.1, loopback",
		"64:ff9b::a9fe:a9fe":     "link-local",
		"64:ff9b:1::8.8.8.8":     "local-use NAT64",
		"100::1":                 "discard-only",
		"2001:db8::1":            "documentation",
		"2001:2::1":              "IETF",
		"2001:10::1":             "IETF",
		"2002:7f00:1::1":         "6to4 address of 127.0.0.1",
		"2002:c0a8:7f01::":       "6to4 address of 192.168.127.1",
		// Teredo: server 127.0.0.1, client 8.8.8.8 (inverted).
		"2001:0:7f00:1::f7f7:f7f7": "Teredo address of 127.0.0.1",
		// Teredo: server 8.8.8.8, client 10.0.0.1 (inverted).
		"2001:0:808:808::f5ff:fffe": "Teredo address of 10.0.0.1",
		"3fff::1":                   "documentation",
		"5f00::1":                   "SRv6",
		"fc00::1":                   "unique local",
		"fd00::2":                   "unique local",
		"fe80::1":                   "link-local",
		"fe80::1%eth0":              "link-local",
		"fec0::1":                   "site-local",
		"ff02::1":                   "multicast",
		"4000::1":                   "outside global unicast",
		"::2:1":                     "IPv4-compatible",
	}
	for addr, want := range cases {
		a := netip.MustParseAddr(addr)
		err := wan().Check(a)
		var r *Refusal
		if !errors.As(err, &r) {
			t.Errorf("%s: allowed, want refused (%s)", addr, want)
			continue
		}
		if !strings.Contains(r.Reason, want) {
			t.Errorf("%s: reason %q, want it to mention %q", addr, r.Reason, want)
		}
		if msg := err.Error(); !strings.Contains(msg, "zone wan") || !strings.Contains(msg, a.WithZone("").String()) {
			t.Errorf("%s: message %q names neither the zone nor the address", addr, msg)
		}
	}
}

func TestWANAllows(t *testing.T) {
	for _, addr := range []string{
		"1.1.1.1", "8.8.8.8", "9.9.9.9", "100.63.255.255", "100.128.0.0", "172.15.255.255",
		"172.32.0.0", "192.0.1.255", "192.0.3.0", "192.169.0.1", "198.17.255.255",
		"198.20.0.0", "223.255.255.255", "11.0.0.1", "126.255.255.255", "128.0.0.1",
		"::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1",
		"2001:0:808:808::f7f7:f7f7", // Teredo: server and client both 8.8.8.8
		"2001:4860:4860::8888", "2620:fe::fe", "2a00:1450:4001::1",
	} {
		if err := wan().Check(netip.MustParseAddr(addr)); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestWANRefusesTheHostsOwnAddresses(t *testing.T) {
	own := []netip.Addr{netip.MustParseAddr("8.8.4.4"), netip.MustParseAddr("2001:4860::1%eth0")}
	p := Policy{Zone: WAN, HostAddrs: func() ([]netip.Addr, error) { return own, nil }}
	for _, addr := range []string{"8.8.4.4", "::ffff:8.8.4.4", "64:ff9b::8.8.4.4", "2002:808:404::1", "2001:4860::1"} {
		err := p.Check(netip.MustParseAddr(addr))
		if err == nil || !strings.Contains(err.Error(), "the host itself") {
			t.Errorf("%s: %v, want refused as the host's own", addr, err)
		}
	}
	if err := p.Check(netip.MustParseAddr("8.8.8.8")); err != nil {
		t.Errorf("8.8.8.8: %v", err)
	}

	broken := Policy{Zone: WAN, HostAddrs: func() ([]netip.Addr, error) { return nil, errors.New("netlink says no") }}
	if err := broken.Check(netip.MustParseAddr("8.8.8.8")); err == nil || !strings.Contains(err.Error(), "netlink says no") {
		t.Errorf("with the host's addresses unknown: %v, want refused with the cause", err)
	}
}

func TestWANWithoutHostAddrsRefuses(t *testing.T) {
	if err := (Policy{Zone: WAN}).Check(netip.MustParseAddr("8.8.8.8")); err == nil {
		t.Error("a WAN policy that cannot list the host's addresses allowed 8.8.8.8")
	}
}

func TestNoneAndFull(t *testing.T) {
	for _, addr := range []string{"8.8.8.8", "127.0.0.1", "192.168.127.254", "::1", "2620:fe::fe"} {
		a := netip.MustParseAddr(addr)
		if err := (Policy{Zone: None, HostAddrs: noHostAddrs}).Check(a); err == nil {
			t.Errorf("zone none allows %s", addr)
		}
		if err := (Policy{Zone: Full, HostAddrs: noHostAddrs}).Check(a); err != nil {
			t.Errorf("zone full: %v", err)
		}
		if err := (Policy{Zone: "lan"}).Check(a); err == nil {
			t.Errorf("an unknown zone allows %s", addr)
		}
	}
}

func TestReservedInvalid(t *testing.T) {
	if Reserved(netip.Addr{}) == "" {
		t.Error("the zero Addr counts as public")
	}
}

func BenchmarkWANCheck(b *testing.B) {
	p := Policy{Zone: WAN}
	a := netip.MustParseAddr("2a00:1450:4001::1")
	for b.Loop() {
		if err := p.Check(a); err != nil {
			b.Fatal(err)
		}
	}
}
