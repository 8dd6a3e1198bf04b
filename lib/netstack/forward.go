package netstack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/containers/gvisor-tap-vsock/pkg/services/forwarder"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"virtdev/lib/egress"
)

const (
	// maxPendingConnections bounds the guest's connections still being
	// dialled on the host; more wait for a slot. A dial to a black hole
	// holds one for dialTimeout.
	maxPendingConnections = 128
	dialTimeout           = 30 * time.Second
	// udpIdle ends a UDP relay nothing has used for that long.
	udpIdle = 90 * time.Second
)

// forwardTCP relays a connection the guest opens, once the host side is
// established: a refused or unreachable destination gets a reset, so the
// guest's program fails at once.
func (s *Stack) forwardTCP(r *tcp.ForwarderRequest) {
	dst := destination(r.ID())
	ctx, cancel := context.WithTimeout(s.ctx, dialTimeout)
	out, err := s.dial(ctx, "tcp", dst)
	cancel()
	if err != nil {
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	r.Complete(false)
	if tcpErr != nil {
		out.Close()
		return
	}
	relay(gonet.NewTCPConn(&wq, ep), out)
}

// forwardUDP relays the datagrams of one flow of the guest's, until it
// has been idle for udpIdle.
func (s *Stack) forwardUDP(r *udp.ForwarderRequest) {
	dst := destination(r.ID())
	if dst.Addr() == netip.AddrFrom4(header.IPv4Broadcast.As4()) {
		return // the link's own broadcast has no host to go to
	}
	if err := s.policy.Check(s.translate(dst).Addr()); err != nil {
		s.refused("UDP", dst, err)
		return
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		return
	}
	proxy, err := forwarder.NewUDPProxy(&idleEnding{gonet.NewUDPConn(&wq, ep)}, func() (net.Conn, error) {
		ctx, cancel := context.WithTimeout(s.ctx, dialTimeout)
		defer cancel()
		return s.dial(ctx, "udp", dst)
	})
	if err != nil {
		ep.Close()
		return
	}
	go func() {
		proxy.Run()
		ep.Close()
	}()
}

func destination(id stack.TransportEndpointID) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(id.LocalAddress.As4()), id.LocalPort)
}

// translate maps the addresses that stand for the host's loopback (in
// zone full only) to it.
func (s *Stack) translate(dst netip.AddrPort) netip.AddrPort {
	if to, ok := s.nat[dst.Addr()]; ok {
		return netip.AddrPortFrom(to, dst.Port())
	}
	return dst
}

// dial connects from the host to where the guest asked. The policy
// decides on the address the socket is about to connect to, at the last
// moment, whatever led to it.
func (s *Stack) dial(ctx context.Context, network string, dst netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		to, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		return s.policy.Check(to.Addr())
	}}
	conn, err := d.DialContext(ctx, network, s.translate(dst).String())
	var refusal *egress.Refusal
	if errors.As(err, &refusal) {
		s.refused(network, dst, refusal)
	}
	return conn, err
}

// refused reports a refused destination, at most once per refusalQuiet
// for each, so that a guest retrying in a loop cannot flood the journal.
func (s *Stack) refused(network string, dst netip.AddrPort, err error) {
	if s.refusals.allow(network + " " + dst.String()) {
		s.log("refused the guest's %s connection to %s: %v", network, dst, err)
	}
}

// refusalQuiet is how long a refused destination is not reported again.
const refusalQuiet = time.Minute

// limiter remembers what it was last asked about, and when.
type limiter struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// maxRemembered bounds the memory a guest can make the limiter use; past
// it, the limiter forgets everything and may report again.
const maxRemembered = 4096

func newLimiter() *limiter { return &limiter{last: map[string]time.Time{}} }

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if t, ok := l.last[key]; ok && now.Sub(t) < refusalQuiet {
		return false
	}
	if len(l.last) >= maxRemembered {
		clear(l.last)
	}
	l.last[key] = now
	return true
}

// idleEnding ends a UDP relay's reads once it has been idle for udpIdle.
type idleEnding struct{ *gonet.UDPConn }

func (c *idleEnding) ReadFrom(b []byte) (int, net.Addr, error) {
	c.SetReadDeadline(time.Now().Add(udpIdle))
	return c.UDPConn.ReadFrom(b)
}

func (c *idleEnding) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.SetReadDeadline(time.Now().Add(udpIdle))
	return c.UDPConn.WriteTo(b, addr)
}

// relay copies both ways between two connections until both directions
// have ended, passing on each end of stream as a half close.
func relay(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		copyHalf(a, b)
	}()
	copyHalf(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

func copyHalf(dst, src net.Conn) {
	io.Copy(dst, src)
	if hc, ok := dst.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	} else {
		dst.Close()
	}
}
