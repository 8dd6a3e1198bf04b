package egress

import (
	"fmt"
	"net/netip"
	"sync"
)

// Policy decides, connection by connection, whether a guest may reach a
// destination. It is asked about the address actually dialled, after any
// name resolution, so a name that resolves one way when checked and
// another when used (DNS rebinding) gains nothing.
type Policy struct {
	Zone Zone
	// HostAddrs lists the host's own addresses, which WAN refuses even
	// when they are public: services bound to them are the host's. It is
	// called at every decision, since interfaces come and go. netstack
	// reads the host's interfaces; nil knows none, and WAN then refuses
	// everything, since it cannot tell the host's addresses from others.
	// (Listing interfaces needs package net, which the programs that only
	// read a zone should not load.)
	HostAddrs func() ([]netip.Addr, error)
}

// Refusal is a destination the zone does not allow.
type Refusal struct {
	Zone   Zone
	Addr   netip.Addr
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("network zone %s refuses %s: %s", r.Zone, r.Addr, r.Reason)
}

// Check returns nil when the zone allows a connection to a, and a
// *Refusal otherwise. A zone it does not know allows nothing.
func (p Policy) Check(a netip.Addr) error {
	a = a.WithZone("")
	refuse := func(reason string) error { return &Refusal{Zone: p.Zone, Addr: a, Reason: reason} }
	switch p.Zone {
	case Full:
		return nil
	case WAN:
	default:
		return refuse("no egress in this zone")
	}
	if reason := Reserved(a); reason != "" {
		return refuse(reason)
	}
	if p.HostAddrs == nil {
		return refuse("the host's own addresses cannot be listed (no way to list them was given)")
	}
	own, err := p.HostAddrs()
	if err != nil {
		return refuse(fmt.Sprintf("the host's own addresses cannot be listed (%v)", err))
	}
	_, v4 := carried(a)
	for _, o := range own {
		o = o.WithZone("").Unmap()
		for _, c := range append(v4, a) {
			if o == c {
				return refuse("an address of the host itself")
			}
		}
	}
	return nil
}

// special is an address range that is not the public internet, and why.
type special struct {
	prefix netip.Prefix
	reason string
}

// ranges parses the list on its first use: only the network stack of a
// running machine decides addresses, and every program that links this
// package would otherwise parse the lists as it starts.
func ranges(list ...string) func() []special {
	return sync.OnceValue(func() []special {
		s := make([]special, 0, len(list)/2)
		for i := 0; i < len(list); i += 2 {
			s = append(s, special{netip.MustParsePrefix(list[i]), list[i+1]})
		}
		return s
	})
}

// reserved4 is every IPv4 range that is not globally routed, from IANA's
// special-purpose registry (RFC 6890 and successors). The few anycast
// services inside them (PCP, TURN, AS112) are refused too: a development
// guest needs none of them. Longer prefixes come first, so a reason is
// the most specific one.
var reserved4 = ranges(
	"0.0.0.0/32", "the unspecified address",
	"255.255.255.255/32", "the broadcast address",
	"0.0.0.0/8", "'this network' (RFC 791)",
	"10.0.0.0/8", "a private network (RFC 1918)",
	"100.64.0.0/10", "carrier-grade NAT space (RFC 6598)",
	"127.0.0.0/8", "loopback",
	"169.254.0.0/16", "link-local",
	"172.16.0.0/12", "a private network (RFC 1918)",
	"192.0.0.0/24", "IETF protocol assignments (RFC 6890)",
	"192.0.2.0/24", "documentation (TEST-NET-1)",
	"192.88.99.0/24", "the deprecated 6to4 relay anycast (RFC 7526)",
	"192.168.0.0/16", "a private network (RFC 1918)",
	"198.18.0.0/15", "benchmarking (RFC 2544)",
	"198.51.100.0/24", "documentation (TEST-NET-2)",
	"203.0.113.0/24", "documentation (TEST-NET-3)",
	"224.0.0.0/4", "multicast",
	"240.0.0.0/4", "reserved (RFC 1112)",
)

// reserved6 is every IPv6 range that is not globally routed and carries
// no IPv4 address decided on its own (see Reserved).
var reserved6 = ranges(
	"::/128", "the unspecified address",
	"::1/128", "loopback",
	"::/96", "an IPv4-compatible address (deprecated, RFC 4291)",
	"::ffff:0:0:0/96", "an IPv4-translated address (RFC 2765)",
	"64:ff9b:1::/48", "local-use NAT64 (RFC 8215)",
	"100::/64", "discard-only (RFC 6666)",
	"2001::/23", "IETF protocol assignments (RFC 2928)",
	"2001:db8::/32", "documentation (RFC 3849)",
	"3fff::/20", "documentation (RFC 9637)",
	"5f00::/16", "SRv6 segment identifiers (RFC 9602)",
	"fc00::/7", "a unique local network (RFC 4193)",
	"fe80::/10", "link-local",
	"fec0::/10", "site-local (deprecated, RFC 3879)",
	"ff00::/8", "multicast",
)

// global6 is where all globally routed IPv6 unicast lies today.
var global6 = netip.MustParsePrefix("2000::/3")

// IPv6 forms that carry an IPv4 address, which decides for them.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: the last 32 bits
	sixto4 = netip.MustParsePrefix("2002::/16")    // RFC 3056: bits 16-47
	teredo = netip.MustParsePrefix("2001::/32")    // RFC 4380: server in bits 32-63, client inverted in 96-127
)

// Reserved tells why a is not an address on the public internet, or
// returns "" when it is. An IPv6 address that carries an IPv4 one
// (IPv4-mapped, NAT64, 6to4, Teredo) is refused when the IPv4 address
// would be; IPv4-compatible and -translated forms are refused outright.
func Reserved(a netip.Addr) string {
	a = a.WithZone("")
	if a.Is4() {
		return reserved(reserved4(), a)
	}
	if !a.IsValid() {
		return "not an IP address"
	}
	if form, v4 := carried(a); form != "" {
		for _, v := range v4 {
			if reason := reserved(reserved4(), v); reason != "" {
				return fmt.Sprintf("%s of %s, %s", form, v, reason)
			}
		}
		return ""
	}
	if reason := reserved(reserved6(), a); reason != "" {
		return reason
	}
	if !global6.Contains(a) {
		return "outside global unicast space (2000::/3)"
	}
	return ""
}

// carried returns the IPv4 addresses an IPv6 address stands for, and the
// name of its form; form is "" for an address that carries none.
func carried(a netip.Addr) (form string, v4 []netip.Addr) {
	b := a.As16()
	at := func(i int) netip.Addr { return netip.AddrFrom4([4]byte(b[i : i+4])) }
	switch {
	case a.Is4In6():
		return "an IPv4-mapped address", []netip.Addr{at(12)}
	case nat64.Contains(a):
		return "a NAT64 address", []netip.Addr{at(12)}
	case sixto4.Contains(a):
		return "a 6to4 address", []netip.Addr{at(2)}
	case teredo.Contains(a):
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		return "a Teredo address", []netip.Addr{at(4), client}
	}
	return "", nil
}

func reserved(table []special, a netip.Addr) string {
	for _, s := range table {
		if s.prefix.Contains(a) {
			return s.reason
		}
	}
	return ""
}
