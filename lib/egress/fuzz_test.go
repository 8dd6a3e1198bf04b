package egress

import (
	"net/netip"
	"testing"
)

// FuzzPolicy checks the policy against properties that hold for every
// address, IPv6 (raw) and IPv4 (raw, and carried inside IPv6 forms):
//   - what Go's own classification calls loopback, private, link-local,
//     multicast or unspecified is refused by WAN;
//   - an IPv6 form carrying a refused IPv4 address is refused; IPv4-mapped
//     and NAT64 forms are decided exactly like the address they carry;
//   - WAN allows IPv6 only in 2000::/3 or in forms that carry IPv4;
//   - none refuses and full allows everything;
//   - a scope suffix (%eth0) changes no decision.
func FuzzPolicy(f *testing.F) {
	for _, seed := range []struct{ v6, v4 string }{
		{"::1", "127.0.0.1"},
		{"::ffff:127.0.0.2", "127.0.0.2"},
		{"64:ff9b::a00:1", "10.0.0.1"},
		{"2002:c0a8:7f01::1", "192.168.127.1"},
		{"2001:0:7f00:1::f7f7:f7f7", "8.8.8.8"},
		{"fe80::1", "169.254.169.254"},
		{"2620:fe::fe", "9.9.9.9"},
		{"::", "0.0.0.0"},
		{"ff02::fb", "224.0.0.251"},
		{"fd00::2", "100.64.0.1"},
		{"2001:db8::1", "192.0.2.2"},
		{"::ffff:0:8.8.8.8", "255.255.255.255"},
	} {
		v6 := netip.MustParseAddr(seed.v6).As16()
		v4 := netip.MustParseAddr(seed.v4).As4()
		f.Add(v6[:], v4[:])
	}
	f.Fuzz(func(t *testing.T, raw6, raw4 []byte) {
		if len(raw6) != 16 || len(raw4) != 4 {
			return
		}
		v6 := netip.AddrFrom16([16]byte(raw6))
		v4 := netip.AddrFrom4([4]byte(raw4))
		p := wan()
		refused := func(a netip.Addr) bool { return p.Check(a) != nil }

		for _, a := range []netip.Addr{v6, v4, netip.AddrFrom16(v4.As16())} {
			if (a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
				a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified()) && !refused(a) {
				t.Errorf("WAN allows %s, which Go classifies as not public", a)
			}
			if (Policy{Zone: None, HostAddrs: noHostAddrs}).Check(a) == nil {
				t.Errorf("zone none allows %s", a)
			}
			if err := (Policy{Zone: Full, HostAddrs: noHostAddrs}).Check(a); err != nil {
				t.Errorf("zone full: %v", err)
			}
			if a.Is6() && refused(a) != refused(a.WithZone("eth0")) {
				t.Errorf("%s and %s are decided differently", a, a.WithZone("eth0"))
			}
		}

		b := v4.As4()
		rest := v6.As16() // arbitrary bits for the parts of a form that carry no address
		mappedForm := netip.AddrFrom16(v4.As16())
		nat64Form := netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 10: 0, 11: 0, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
		sixto4Form := netip.AddrFrom16([16]byte{0x20, 0x02, b[0], b[1], b[2], b[3], rest[6], rest[7], rest[8], rest[9], rest[10], rest[11], rest[12], rest[13], rest[14], rest[15]})
		teredoServer := netip.AddrFrom16([16]byte{0x20, 0x01, 0, 0, b[0], b[1], b[2], b[3], rest[8], rest[9], rest[10], rest[11], rest[12], rest[13], rest[14], rest[15]})
		teredoClient := netip.AddrFrom16([16]byte{0x20, 0x01, 0, 0, rest[4], rest[5], rest[6], rest[7], rest[8], rest[9], rest[10], rest[11], ^b[0], ^b[1], ^b[2], ^b[3]})

		if refused(mappedForm) != refused(v4) {
			t.Errorf("%s and %s are decided differently", mappedForm, v4)
		}
		if refused(nat64Form) != refused(v4) {
			t.Errorf("%s and %s are decided differently", nat64Form, v4)
		}
		if refused(v4) {
			for _, form := range []netip.Addr{sixto4Form, teredoServer, teredoClient} {
				if !refused(form) {
					t.Errorf("WAN allows %s, which carries the refused %s", form, v4)
				}
			}
		}

		if v6.Is6() && !refused(v6) && !global6.Contains(v6) && !v6.Is4In6() && !nat64.Contains(v6) {
			t.Errorf("WAN allows %s, outside 2000::/3 and carrying no IPv4 address", v6)
		}
	})
}
