package sshx

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Proxy is the far end of a HostBlock's ProxyCommand: it connects to the
// machine's SSH forward on port and gives ssh the connection. When stdout
// is a socket, ssh asked for the connected descriptor itself
// (ProxyUseFdpass): it is passed over stdout, and Proxy returns at once,
// leaving nothing between ssh and the machine. Otherwise it relays stdin
// to the connection and the connection to stdout until both are done.
func Proxy(ctx context.Context, port int, stdin io.Reader, stdout *os.File) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer conn.Close()
	if isSocket(stdout) {
		return passConn(conn.(*net.TCPConn), stdout)
	}
	go func() {
		io.Copy(conn, stdin)
		// ssh is done sending; the guest may still have things to say.
		conn.(*net.TCPConn).CloseWrite()
	}()
	_, err = io.Copy(stdout, conn)
	return err
}

func isSocket(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeSocket != 0
}

// passConn sends conn's descriptor over the socket to, with the one byte
// of data a descriptor needs to travel with (ssh's mm_receive_fd reads
// exactly that).
func passConn(conn *net.TCPConn, to *os.File) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	err = raw.Control(func(fd uintptr) {
		sendErr = unix.Sendmsg(int(to.Fd()), []byte{0}, unix.UnixRights(int(fd)), nil, 0)
	})
	if err == nil {
		err = sendErr
	}
	if err != nil {
		return fmt.Errorf("cannot pass the connection to ssh: %w", err)
	}
	return nil
}
