package netstack

import (
	"io"
	"net"
	"testing"

	"virtdev/lib/egress"
)

// BenchmarkSSHForward pushes data from the host through the SSH forward
// and the link to a test guest's SSH port, the path of virtdev-ssh and
// virtdev-transfer, without QEMU or a guest kernel.
func BenchmarkSSHForward(b *testing.B) {
	network, guest := newTestGuest(b, Config{Policy: egress.Policy{Zone: egress.WAN}, SSHPort: freePort(b), Log: b.Logf})
	sshd, err := guest.listen(SSHPort)
	if err != nil {
		b.Fatal(err)
	}
	defer sshd.Close()
	done := make(chan int64)
	go func() {
		c, err := sshd.Accept()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	c, err := net.Dial("tcp", network.SSHAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	<-done
	c.Close()
}
