package sshx

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"virtdev/lib/layout"
)

func TestHostBlock(t *testing.T) {
	l := layout.Layout{Home: "/data", ConfigDir: "/conf/virtdev", SSHKey: "/data/ssh/id"}
	var b bytes.Buffer
	proxy := []string{"/usr/bin/virtdev-ssh-config", "--proxy", "p"}
	if err := HostBlock(&b, l, l.Project("p"), proxy, "stopped: start it with virtdev-start p"); err != nil {
		t.Fatal(err)
	}
	want := `Host virtdev-p
	# stopped: start it with virtdev-start p
	HostName 127.0.0.1
	ProxyCommand '/usr/bin/virtdev-ssh-config' '--proxy' 'p'
	ProxyUseFdpass yes
	Include "/conf/virtdev/projects/p/ssh_config"
	Include "/conf/virtdev/ssh_config"
	User dev
	IdentityFile "/data/ssh/id"
	IdentitiesOnly yes
	HostKeyAlias virtdev-p
	UserKnownHostsFile "/data/projects/p/known_hosts"
`
	if !strings.HasPrefix(b.String(), want) || !strings.Contains(b.String(), "\tForwardAgent no\n") {
		t.Errorf("block:\n%s\nwant it to start with:\n%s", b.String(), want)
	}
	// The same options as virtdev's own connections, in the same order.
	defaults, _ := Defaults(l.Project("p"), l.SSHKey)
	last := defaults[len(defaults)-1]
	if !strings.HasSuffix(b.String(), "\t"+last.Keyword+" "+last.Value+"\n") {
		t.Errorf("the block does not end with virtdev's defaults:\n%s", b.String())
	}
}

func TestProxyCommandQuoting(t *testing.T) {
	got := ProxyCommand([]string{"/opt/it's here/virtdev-ssh-config", "--home", "/home/100%"})
	want := `'/opt/it'\''s here/virtdev-ssh-config' '--home' '/home/100%%'`
	if got != want {
		t.Errorf("ProxyCommand = %s\nwant %s", got, want)
	}
}

// echoServer stands for the machine's SSH forward: it greets, then echoes.
func echoServer(t *testing.T) int {
	l, err := net.Listen("tcp", Host+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("SSH-2.0-fake\r\n"))
				io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func TestProxyRelays(t *testing.T) {
	port := echoServer(t)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Proxy(context.Background(), port, strings.NewReader("hello"), outW)
		outW.Close()
	}()
	got, _ := io.ReadAll(outR)
	if string(got) != "SSH-2.0-fake\r\nhello" {
		t.Errorf("relayed %q", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Proxy: %v", err)
	}
}

func TestProxyPassesTheConnection(t *testing.T) {
	port := echoServer(t)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "ssh"), os.NewFile(uintptr(pair[1]), "proxy stdout")
	defer ours.Close()
	if err := Proxy(context.Background(), port, strings.NewReader(""), theirs); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	// What ssh does with ProxyUseFdpass: receive the descriptor and talk
	// to the machine through it.
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(ours.Fd()), buf, oob, 0)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v, %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("descriptors %v, %v", fds, err)
	}
	conn := os.NewFile(uintptr(fds[0]), "machine")
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write([]byte("ping"))
	got := make([]byte, len("SSH-2.0-fake\r\nping"))
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != "SSH-2.0-fake\r\nping" {
		t.Errorf("through the passed descriptor: %q, %v", got, err)
	}
}
