package netstack

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/containers/gvisor-tap-vsock/pkg/tap"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// maxFrame bounds the frames QEMU may send: its own limit for a netdev
// packet (NET_BUFSIZE, 4 KiB and 64 KiB).
const maxFrame = 4096 + 65536

// port is the one link between the gateway and QEMU's network card, over
// a stream socket in QEMU's framing: every Ethernet frame preceded by its
// length, 32 bits big-endian. gvisor-tap-vsock's switch does that for any
// number of machines; a machine's network has exactly one, so frames for
// any other address than the gateway's have nowhere to go.
type port struct {
	gateway *tap.LinkEndpoint

	mu     sync.Mutex // one frame at a time on the socket
	conn   net.Conn   // nil until Serve: frames sent before are dropped
	length [4]byte
	failed error
}

func newPort(gateway *tap.LinkEndpoint) *port {
	p := &port{gateway: gateway}
	gateway.Connect(p)
	return p
}

// Serve joins the stack to QEMU through conn, until QEMU hangs up (nil:
// the socket ends, or a frame finds it closed) or the link fails. A stack serves one connection in its life.
func (s *Stack) Serve(conn net.Conn) error {
	defer conn.Close()
	s.port.mu.Lock()
	if s.port.conn != nil {
		s.port.mu.Unlock()
		return errors.New("the machine's network is already joined to QEMU")
	}
	s.port.conn = conn
	s.port.mu.Unlock()
	return s.port.receive(conn)
}

// DeliverNetworkPacket sends a frame of the gateway to QEMU.
func (p *port) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	v := pkt.ToView()
	defer v.Release()
	frame := v.AsSlice()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil || p.failed != nil {
		return
	}
	binary.BigEndian.PutUint32(p.length[:], uint32(len(frame)))
	// One writev for the length and the frame: a frame is never split
	// between two system calls' worth of other frames.
	bufs := net.Buffers{p.length[:], frame}
	if _, err := bufs.WriteTo(p.conn); err != nil {
		p.failed = err
		p.conn.Close()
	}
}

// receive hands QEMU's frames to the gateway until the socket ends.
func (p *port) receive(conn net.Conn) error {
	r := bufio.NewReaderSize(conn, 2*maxFrame)
	frame := make([]byte, maxFrame)
	var length [4]byte
	for {
		if _, err := io.ReadFull(r, length[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return p.err(err)
		}
		n := binary.BigEndian.Uint32(length[:])
		if n < header.EthernetMinimumSize || n > maxFrame {
			return fmt.Errorf("QEMU sent a frame of %d bytes, outside %d-%d", n, header.EthernetMinimumSize, maxFrame)
		}
		if _, err := io.ReadFull(r, frame[:n]); err != nil {
			return p.err(err)
		}
		p.deliver(frame[:n])
	}
}

// err is why the link ended: a write failure closes the socket, which
// ends the reads too, and is the one to tell.
func (p *port) err(read error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if errors.Is(p.failed, syscall.EPIPE) || errors.Is(p.failed, syscall.ECONNRESET) {
		return nil
	}
	if p.failed != nil {
		return fmt.Errorf("cannot send to QEMU: %w", p.failed)
	}
	return fmt.Errorf("cannot read from QEMU: %w", read)
}

func (p *port) deliver(frame []byte) {
	eth := header.Ethernet(frame)
	if dst := eth.DestinationAddress(); dst != p.gateway.LinkAddress() && dst != header.EthernetBroadcastAddress {
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		Payload: buffer.MakeWithData(frame[header.EthernetMinimumSize:]),
	})
	p.gateway.DeliverNetworkPacket(eth.Type(), pkt)
	pkt.DecRef()
}
