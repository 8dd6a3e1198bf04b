package qemu

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/validate"
)

// FirstPort is where automatic SSH port assignment starts.
const FirstPort = 2222

// PortFree reports whether QEMU could bind the port on 127.0.0.1. Linux
// refuses that bind when anything listens on the port at 127.0.0.1 or on a
// wildcard address, which is exactly the conflict QEMU would meet.
func PortFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return !errors.Is(err, syscall.EADDRINUSE)
	}
	l.Close()
	return true
}

// ChoosePort finds the lowest port from first up that free accepts.
func ChoosePort(first int, free func(int) bool) (int, error) {
	for p := first; p <= validate.MaxPort; p++ {
		if free(p) {
			return p, nil
		}
	}
	return 0, &PortError{Port: first, Auto: true, Exhausted: true}
}

// PortError is an SSH port another program holds.
type PortError struct {
	Port      int
	Auto      bool   // chosen automatically rather than given
	Exhausted bool   // no port at all was free
	Claimed   string // the machine whose port file names the port, if one does
	// Raced is set when the port was free at the check and taken by the
	// time QEMU bound it; Unit and Ended then tell how QEMU went.
	Raced bool
	Unit  string
	Ended string
}

func (e *PortError) Error() string {
	switch {
	case e.Exhausted:
		return fmt.Sprintf("no free TCP port on 127.0.0.1 from %d to %d\nFree one, or give an explicit port: virtdev-start <project> <port>", e.Port, validate.MaxPort)
	case e.Claimed != "":
		return fmt.Sprintf("port %d is the SSH port of machine %s (its port file names it)\nChoose another port, or omit it to pick the lowest free one from %d.", e.Port, e.Claimed, FirstPort)
	case e.Raced:
		retry := "Retry; automatic assignment will pick the next free port."
		if !e.Auto {
			retry = "Retry with another port, or omit it to pick the lowest free one."
		}
		return fmt.Sprintf("port %d on 127.0.0.1 was taken by another program between virtdev's check and QEMU's bind (%s: %s)\n%s\nQEMU's own message: journalctl --user -u %s",
			e.Port, e.Unit, e.Ended, retry, e.Unit)
	}
	return fmt.Sprintf("port %d on 127.0.0.1 is already in use\nSee who holds it: ss -tlnp 'sport = :%d'\nChoose another port, or omit it to pick the lowest free one from %d.", e.Port, e.Port, FirstPort)
}

// claimPort chooses m's SSH port (requested, or the lowest free one from
// FirstPort when requested is 0) and writes it into m's port file. It
// holds the ports lock from the choice to the writing, and skips every
// port another machine's port file names, even one whose QEMU has not
// bound it yet: two starts at once never choose the same port.
func claimPort(l layout.Layout, m layout.Machine, requested int) (int, error) {
	held, err := lock.Ports(l)
	if err != nil {
		return 0, err
	}
	defer held.Release()
	claimed, err := project.ClaimedPorts(l)
	if err != nil {
		return 0, fmt.Errorf("cannot read the ports other machines use: %w", err)
	}
	delete(claimed, 0)
	port := requested
	switch {
	case port == 0:
		port, err = ChoosePort(FirstPort, func(p int) bool { return claimed[p] == "" && PortFree(p) })
		if err != nil {
			return 0, err
		}
	case claimed[port] != "" && claimed[port] != m.Name:
		return 0, &PortError{Port: port, Claimed: claimed[port]}
	case !PortFree(port):
		return 0, &PortError{Port: port}
	}
	if err := project.WritePort(m, port); err != nil {
		return 0, fmt.Errorf("cannot write the port file %s: %w", m.Port, err)
	}
	return port, nil
}
