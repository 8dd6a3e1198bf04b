package qemu

import (
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"virtdev/lib/egress"
)

// Network is a machine's own network, which the supervisor runs around
// QEMU: made before QEMU starts, joined to QEMU's network card through a
// socket QEMU inherits as NetworkFD, and closed once QEMU has exited.
// lib/netstack's Stack is one. The supervisor's program makes it, so that
// only that program carries a network stack, not every program that knows
// this package.
type Network interface {
	// Serve carries the frames of QEMU's network card over link until
	// QEMU hangs up (nil) or the link fails.
	Serve(link net.Conn) error
	Close() error
}

// NetworkFD is the descriptor QEMU inherits its end of the link as: the
// first after stdin, stdout and stderr.
const NetworkFD = 3

// networkArgs are the machine's network card, on the link the supervisor
// hands QEMU, with the address the network's DHCP server knows. No option
// ROM: nothing boots from the network.
func networkArgs() []string {
	return []string{
		"-netdev", fmt.Sprintf("stream,id=net0,server=off,addr.type=fd,addr.str=%d", NetworkFD),
		"-device", "virtio-net-pci,netdev=net0,romfile=,mac=" + egress.GuestMAC,
	}
}

// hangupGrace is how long QEMU may take to exit once its end of the link
// has closed before the network counts as failed: QEMU closes its
// sockets as it exits.
const hangupGrace = 2 * time.Second

// NetworkSetupError is a network that could not be made; QEMU was not
// started.
type NetworkSetupError struct{ Err error }

func (e *NetworkSetupError) Error() string {
	return "cannot set the machine's network up: " + e.Err.Error()
}
func (e *NetworkSetupError) Unwrap() error { return e.Err }

// NetworkError is a network that failed under a running machine; the
// supervisor stopped QEMU, which cannot go on without it.
type NetworkError struct{ Err error }

func (e *NetworkError) Error() string {
	return fmt.Sprintf("the machine's network failed (%v); QEMU was stopped", e.Err)
}
func (e *NetworkError) Unwrap() error { return e.Err }

// socketPair makes the link: our end as a net.Conn, QEMU's as a file for
// it to inherit.
func socketPair() (ours net.Conn, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot make the socket that links QEMU to the network: %w", err)
	}
	ourFile := os.NewFile(uintptr(fds[0]), "network")
	defer ourFile.Close()
	theirs = os.NewFile(uintptr(fds[1]), "qemu-network")
	if ours, err = net.FileConn(ourFile); err != nil {
		theirs.Close()
		return nil, nil, fmt.Errorf("cannot use the socket that links QEMU to the network: %w", err)
	}
	return ours, theirs, nil
}
