package netstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// QEMU's end of the link is a socket it inherits as this descriptor (the
// first after stdin, stdout and stderr).
const qemuFD = 3

// QEMUArgs are the options Run adds to QEMU's command line: the machine's
// network card, on the socket it inherits, with the address DHCP knows.
var QEMUArgs = []string{
	"-netdev", fmt.Sprintf("stream,id=net0,server=off,addr.type=fd,addr.str=%d", qemuFD),
	// No option ROM: nothing boots from the network.
	"-device", "virtio-net-pci,netdev=net0,romfile=,mac=" + GuestMAC,
}

// Grace periods of ending QEMU when the network fails under it.
const (
	// hangupGrace is how long QEMU may take to exit after its end of the
	// link closed before the network counts as failed: QEMU closes its
	// sockets as it exits.
	hangupGrace = 2 * time.Second
	// killGrace is how long QEMU has after SIGTERM before SIGKILL.
	killGrace = 10 * time.Second
)

// Exit is how QEMU ended.
type Exit struct {
	Status int            // its exit status, when it exited
	Signal syscall.Signal // the signal that killed it, or 0
}

func (e Exit) String() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal %d (%v)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Status)
}

// StartError is QEMU failing to start at all.
type StartError struct {
	Program string
	Err     error
}

func (e *StartError) Error() string { return fmt.Sprintf("cannot start %s: %v", e.Program, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// NetworkError is the network failing while QEMU ran; QEMU was ended.
type NetworkError struct {
	Err  error
	QEMU Exit
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("the machine's network failed (%v); QEMU was stopped (%v)", e.Err, e.QEMU)
}

func (e *NetworkError) Unwrap() error { return e.Err }

// Run runs a machine: it sets the network up, starts QEMU (argv, without
// a network card: Run adds QEMUArgs) as its child, and returns how QEMU
// ended, once it has. Neither outlives the other: when ctx ends (the
// caller got SIGTERM), QEMU gets SIGTERM and Run still waits for it; when
// the network fails, QEMU is ended (SIGTERM, then SIGKILL); and when this
// process dies, however it dies, the kernel sends QEMU SIGTERM.
func Run(ctx context.Context, cfg Config, argv []string, stdout, stderr io.Writer) (Exit, error) {
	network, err := New(cfg)
	if err != nil {
		return Exit{}, err
	}
	defer network.Close()
	ours, theirs, err := socketPair()
	if err != nil {
		return Exit{}, err
	}
	defer ours.Close()

	qemu := exec.Command(argv[0], append(argv[1:len(argv):len(argv)], QEMUArgs...)...)
	qemu.Stdout, qemu.Stderr = stdout, stderr
	// Writers that are not files are fed through pipes, which a process
	// QEMU left behind could hold open: its end must not wait for them.
	qemu.WaitDelay = time.Second
	qemu.ExtraFiles = []*os.File{theirs}
	// Sent when the thread that started QEMU ends, which for a Go
	// program is when the process does: the runtime ends a thread only
	// when a goroutine locked to it exits, and none is here.
	qemu.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	err = qemu.Start()
	theirs.Close()
	if err != nil {
		return Exit{}, &StartError{Program: argv[0], Err: err}
	}
	exited := make(chan Exit, 1)
	go func() {
		qemu.Wait()
		exited <- exitOf(qemu.ProcessState)
	}()
	linkDone := make(chan error, 1)
	go func() { linkDone <- network.Serve(ours) }()

	var linkErr error
	var hangup <-chan time.Time
	cancelled := ctx.Done()
	for {
		select {
		case e := <-exited:
			return e, nil
		case <-cancelled:
			cancelled = nil
			qemu.Process.Signal(syscall.SIGTERM)
		case linkErr = <-linkDone:
			if linkErr == nil {
				linkErr = errors.New("QEMU closed its end of the link")
			}
			hangup = time.After(hangupGrace)
		case <-hangup:
			return Exit{}, &NetworkError{Err: linkErr, QEMU: terminate(qemu.Process, exited)}
		}
	}
}

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

// terminate ends QEMU: SIGTERM, then SIGKILL after killGrace.
func terminate(p *os.Process, exited <-chan Exit) Exit {
	p.Signal(syscall.SIGTERM)
	select {
	case e := <-exited:
		return e
	case <-time.After(killGrace):
	}
	p.Kill()
	return <-exited
}

func exitOf(ps *os.ProcessState) Exit {
	ws := ps.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return Exit{Signal: ws.Signal()}
	}
	return Exit{Status: ws.ExitStatus()}
}

// diesCleanly are the signals a Go program can die by exactly as a C
// program does, without the runtime printing a trace first.
var diesCleanly = map[syscall.Signal]bool{
	syscall.SIGHUP: true, syscall.SIGINT: true, syscall.SIGTERM: true, syscall.SIGKILL: true,
	syscall.SIGUSR1: true, syscall.SIGUSR2: true, syscall.SIGALRM: true,
}

// Mirror makes this process end as QEMU did, so that whoever watches it
// (systemd: the unit's ExecMainCode and ExecMainStatus) sees QEMU's end:
// for a signal that kills a Go program cleanly, it dies by the same
// signal and does not return. Otherwise it returns the status to exit
// with: QEMU's own, or 128 and the signal's number, as a shell reports it.
func (e Exit) Mirror() int {
	if e.Signal == 0 {
		return e.Status
	}
	if diesCleanly[e.Signal] {
		signal.Reset(e.Signal)
		syscall.Kill(os.Getpid(), e.Signal)
		// The signal is delivered before kill returns; this is only
		// for a kernel that would be slow about it.
		time.Sleep(time.Second)
	}
	return 128 + int(e.Signal)
}
