// Package netstack is a machine's network, run by virtdev in user space in
// place of QEMU's built-in user networking: a virtual Ethernet link to
// QEMU, and behind it a TCP/IP stack (gVisor's, as assembled by
// github.com/containers/gvisor-tap-vsock) that gives the guest an address
// by DHCP, answers its DNS queries, relays its TCP and UDP connections from
// the host, and brings SSH in from a port on the host's loopback.
//
// Every connection the guest opens is dialled by this package, on the host,
// and only after the machine's egress.Policy has allowed the address being
// dialled; DNS answers the zone would refuse are dropped before the guest
// sees them. The SSH forward goes the other way and works in every zone.
// ICMP never leaves: gVisor answers the guest's echo requests itself, for
// any address, so a ping says nothing about what the guest can reach.
//
// The guest sees:
//
//	192.168.127.0/24   its network; the guest is egress.GuestIP, by DHCP
//	192.168.127.1      the gateway, DHCP and DNS server
//	192.168.127.254    the host's loopback, in zone full only
//
// In zone full the gateway's and 192.168.127.254's other ports reach the
// host's 127.0.0.1, as QEMU's 10.0.2.2 did; in the other zones those
// addresses are private like any other and refused.
package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/containers/gvisor-tap-vsock/pkg/services/dhcp"
	"github.com/containers/gvisor-tap-vsock/pkg/services/dns"
	"github.com/containers/gvisor-tap-vsock/pkg/tap"
	"github.com/containers/gvisor-tap-vsock/pkg/types"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"virtdev/lib/egress"
)

// The link, beyond the addresses egress names.
const (
	// MTU is the link's: Ethernet's usual, which the guest uses anyway
	// (systemd-networkd ignores a DHCP MTU unless told otherwise).
	MTU = 1500
	// SSHPort is the guest's SSH server.
	SSHPort = 22

	gatewayMAC = "5a:94:ef:e4:0c:dd"
	nicID      = 1
)

// Config is one machine's network.
type Config struct {
	Policy egress.Policy
	// SSHPort is the port on the host's 127.0.0.1 forwarded to the
	// guest's SSH server; 0 forwards none (the installer machine).
	SSHPort int
	// Resolver answers the guest's DNS queries before the policy filters
	// them; nil is the host's resolver.
	Resolver Resolver
	// Log reports refused connections and failures, for people; nil
	// says nothing.
	Log func(format string, args ...any)
}

// Stack is one machine's running network, from New to Close.
type Stack struct {
	policy   egress.Policy
	nat      map[netip.Addr]netip.Addr
	log      func(format string, args ...any)
	refusals *limiter

	stack   *stack.Stack
	gateway *tap.LinkEndpoint
	port    *port
	ssh     net.Listener

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	closed sync.Once
	closes []func() error
}

// PortError is an SSH port the stack cannot listen on.
type PortError struct {
	Port int
	Err  error
}

func (e *PortError) Error() string {
	return fmt.Sprintf("cannot listen on 127.0.0.1:%d for the guest's SSH: %v", e.Port, e.Err)
}

func (e *PortError) Unwrap() error { return e.Err }

// InterfaceAddrs lists the addresses of the host's network interfaces:
// what a machine's egress.Policy refuses in zone WAN unless told otherwise.
func InterfaceAddrs() ([]netip.Addr, error) {
	nets, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	for _, n := range nets {
		if ipnet, ok := n.(*net.IPNet); ok {
			if a, ok := netip.AddrFromSlice(ipnet.IP); ok {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	return addrs, nil
}

// New sets a machine's network up and starts listening on its SSH port;
// Serve then connects it to QEMU (a *Stack is a qemu.Network).
func New(cfg Config) (*Stack, error) {
	logf := cfg.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	resolver := cfg.Resolver
	if resolver == nil {
		resolver = &net.Resolver{}
	}
	policy := cfg.Policy
	if policy.HostAddrs == nil {
		policy.HostAddrs = InterfaceAddrs
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stack{
		policy:   policy,
		nat:      map[netip.Addr]netip.Addr{},
		log:      logf,
		refusals: newLimiter(),
		ctx:      ctx,
		cancel:   cancel,
	}
	if cfg.SSHPort != 0 {
		ssh, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.SSHPort)))
		if err != nil {
			cancel()
			return nil, &PortError{Port: cfg.SSHPort, Err: err}
		}
		s.ssh = ssh
		s.closes = append(s.closes, ssh.Close)
	}
	if cfg.Policy.Zone == egress.Full {
		loopback := netip.MustParseAddr("127.0.0.1")
		s.nat[netip.MustParseAddr(egress.GatewayIP)] = loopback
		s.nat[netip.MustParseAddr(egress.HostIP)] = loopback
	}
	if err := s.build(resolver); err != nil {
		s.Close()
		return nil, fmt.Errorf("cannot set the machine's network up: %w", err)
	}
	if s.ssh != nil {
		go s.serveSSH()
	}
	return s, nil
}

func (s *Stack) build(resolver Resolver) error {
	_, subnet, err := net.ParseCIDR(egress.Subnet)
	if err != nil {
		return err
	}
	pool := tap.NewIPPool(subnet)
	pool.Reserve(net.ParseIP(egress.GatewayIP), gatewayMAC)
	pool.Reserve(net.ParseIP(egress.GuestIP), egress.GuestMAC)
	// The host's address answers ARP in every zone, so that a refused
	// connection to it fails at once rather than after ARP gives up.
	s.gateway, err = tap.NewLinkEndpoint(false, MTU, gatewayMAC, egress.GatewayIP, []string{egress.HostIP})
	if err != nil {
		return err
	}
	s.port = newPort(s.gateway)
	s.stack = stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	s.closes = append(s.closes, func() error { s.stack.Close(); return nil })
	if err := tcpipError(s.stack.CreateNIC(nicID, s.gateway)); err != nil {
		return err
	}
	gateway := tcpip.AddrFrom4(netip.MustParseAddr(egress.GatewayIP).As4())
	if err := tcpipError(s.stack.AddProtocolAddress(nicID, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: gateway.WithPrefix(),
	}, stack.AddressProperties{})); err != nil {
		return err
	}
	// Promiscuous and spoofing: the stack takes packets for every
	// address, and answers as that address, which is what lets it stand
	// in for the whole internet.
	if err := tcpipError(s.stack.SetSpoofing(nicID, true)); err != nil {
		return err
	}
	if err := tcpipError(s.stack.SetPromiscuousMode(nicID, true)); err != nil {
		return err
	}
	route, err := tcpip.NewSubnet(tcpip.AddrFromSlice(subnet.IP.To4()), tcpip.MaskFromBytes(subnet.Mask))
	if err != nil {
		return err
	}
	s.stack.SetRouteTable([]tcpip.Route{{Destination: route, NIC: nicID}})

	s.stack.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(s.stack, 0, maxPendingConnections, s.forwardTCP).HandlePacket)
	s.stack.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(s.stack, s.forwardUDP).HandlePacket)

	if err := s.serveDHCP(pool); err != nil {
		return err
	}
	return s.serveDNS(gateway, resolver)
}

func (s *Stack) serveDHCP(pool *tap.IPPool) error {
	server, err := dhcp.New(&types.Configuration{Subnet: egress.Subnet, GatewayIP: egress.GatewayIP, MTU: MTU}, s.stack, pool)
	if err != nil {
		return fmt.Errorf("DHCP server: %w", err)
	}
	s.closes = append(s.closes, server.Underlying.Close)
	go func() {
		if err := server.Serve(); err != nil && s.ctx.Err() == nil {
			s.log("the DHCP server stopped: %v", err)
		}
	}()
	return nil
}

func (s *Stack) serveDNS(gateway tcpip.Address, resolver Resolver) error {
	at := tcpip.FullAddress{NIC: nicID, Addr: gateway, Port: 53}
	udpConn, err := gonet.DialUDP(s.stack, &at, nil, ipv4.ProtocolNumber)
	if err != nil {
		return fmt.Errorf("DNS server over UDP: %w", err)
	}
	s.closes = append(s.closes, udpConn.Close)
	tcpListener, err := gonet.ListenTCP(s.stack, at, ipv4.ProtocolNumber)
	if err != nil {
		return fmt.Errorf("DNS server over TCP: %w", err)
	}
	s.closes = append(s.closes, tcpListener.Close)
	server, err := dns.NewWithUpstreamResolver(udpConn, tcpListener, nil, &filteredResolver{upstream: resolver, policy: s.policy})
	if err != nil {
		return fmt.Errorf("DNS server: %w", err)
	}
	for _, serve := range []func() error{server.Serve, server.ServeTCP} {
		go func() {
			if err := serve(); err != nil && s.ctx.Err() == nil {
				s.log("the DNS server stopped: %v", err)
			}
		}()
	}
	return nil
}

// Close stops the network: the SSH forward, the services, the stack.
func (s *Stack) Close() error {
	var errs []error
	s.closed.Do(func() {
		s.cancel()
		for i := len(s.closes) - 1; i >= 0; i-- {
			if err := s.closes[i](); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}

func tcpipError(err tcpip.Error) error {
	if err == nil {
		return nil
	}
	return errors.New(err.String())
}
