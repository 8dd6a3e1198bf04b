package netstack

import (
	"context"
	"net"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"

	"virtdev/lib/egress"
)

// guestDialTimeout bounds the wait for the guest to answer a forwarded
// SSH connection; a guest still booting has no address to answer ARP
// with, and the client is better off trying again.
const guestDialTimeout = 5 * time.Second

// serveSSH forwards the host's connections to the SSH port to the guest,
// until Close.
func (s *Stack) serveSSH() {
	guest := tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(netip.MustParseAddr(egress.GuestIP).As4()), Port: SSHPort}
	for {
		conn, err := s.ssh.Accept()
		if err != nil {
			if s.ctx.Err() == nil {
				s.log("the SSH forward stopped: %v", err)
			}
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(s.ctx, guestDialTimeout)
			defer cancel()
			in, err := gonet.DialContextTCP(ctx, s.stack, guest, ipv4.ProtocolNumber)
			if err != nil {
				conn.Close()
				return
			}
			relay(conn, in)
		}()
	}
}

// SSHAddr is where the guest's SSH server is reached from the host; nil
// without an SSH forward.
func (s *Stack) SSHAddr() net.Addr {
	if s.ssh == nil {
		return nil
	}
	return s.ssh.Addr()
}
