package netstack

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"virtdev/lib/egress"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// testGuest stands in for QEMU and its guest: a second TCP/IP stack with
// the guest's address and MAC, on the other end of the link, speaking
// QEMU's framing. What it sees of the network is what a guest sees.
type testGuest struct {
	stack *stack.Stack
}

// newTestGuest starts a machine's network in zone cfg and joins a test
// guest to it.
func newTestGuest(t testing.TB, cfg Config) (*Stack, *testGuest) {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = t.Logf
	}
	network, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ours, guestConn := testLink(t)
	served := make(chan error, 1)
	go func() { served <- network.Serve(ours) }()

	mac, _ := net.ParseMAC(egress.GuestMAC)
	link := channel.New(4096, MTU, tcpip.LinkAddress(mac))
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	if err := s.CreateNIC(1, ethernet.New(link)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: addr(egress.GuestIP), PrefixLen: 24},
	}, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, Gateway: addr(egress.GatewayIP), NIC: 1}})

	ctx, cancel := context.WithCancel(context.Background())
	go func() { // guest → network
		var length [4]byte
		for {
			pkt := link.ReadContext(ctx)
			if pkt == nil {
				return
			}
			v := pkt.ToView()
			pkt.DecRef()
			binary.BigEndian.PutUint32(length[:], uint32(v.Size()))
			bufs := net.Buffers{length[:], v.AsSlice()}
			_, err := bufs.WriteTo(guestConn)
			v.Release()
			if err != nil {
				return
			}
		}
	}()
	go func() { // network → guest
		var length [4]byte
		for {
			if _, err := io.ReadFull(guestConn, length[:]); err != nil {
				return
			}
			frame := make([]byte, binary.BigEndian.Uint32(length[:]))
			if _, err := io.ReadFull(guestConn, frame); err != nil {
				return
			}
			pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
			link.InjectInbound(0, pkt)
			pkt.DecRef()
		}
	}()
	t.Cleanup(func() {
		cancel()
		guestConn.Close()
		s.Close()
		network.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return network, &testGuest{stack: s}
}

func addr(s string) tcpip.Address { return tcpip.AddrFrom4(netip.MustParseAddr(s).As4()) }

func (g *testGuest) full(ap netip.AddrPort) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(ap.Addr().As4()), Port: ap.Port()}
}

// dial connects from inside the guest.
func (g *testGuest) dial(ap netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return gonet.DialContextTCP(ctx, g.stack, g.full(ap), ipv4.ProtocolNumber)
}

// dialUDP opens a UDP flow from inside the guest.
func (g *testGuest) dialUDP(ap netip.AddrPort) (*gonet.UDPConn, error) {
	to := g.full(ap)
	return gonet.DialUDP(g.stack, nil, &to, ipv4.ProtocolNumber)
}

// listen accepts connections inside the guest.
func (g *testGuest) listen(port uint16) (net.Listener, error) {
	return gonet.ListenTCP(g.stack, tcpip.FullAddress{NIC: 1, Port: port}, ipv4.ProtocolNumber)
}

// testLink is a link as QEMU gets one: the two ends of a stream socket
// pair, the machine's network's and QEMU's.
func testLink(t testing.TB) (ours, theirs net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "link")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return conns[0], conns[1]
}
