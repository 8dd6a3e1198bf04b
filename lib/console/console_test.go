package console

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// guest stands for QEMU's end of the console: it records what it is sent
// and writes what it is told to.
type guest struct {
	mu   sync.Mutex
	got  bytes.Buffer
	conn net.Conn
}

func newGuest(t *testing.T) (*guest, net.Conn) {
	ours, theirs := net.Pipe()
	g := &guest{conn: theirs}
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := theirs.Read(buf)
			g.mu.Lock()
			g.got.Write(buf[:n])
			g.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ours.Close(); theirs.Close() })
	return g, ours
}

func (g *guest) received() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.got.String()
}

// lockedBuffer is the terminal's screen, written by the relay's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestEscapeDetaches(t *testing.T) {
	g, conn := newGuest(t)
	in, typing := io.Pipe()
	var screen lockedBuffer
	done := make(chan Ending, 1)
	go func() {
		how, err := Relay(conn, in, &screen)
		if err != nil {
			t.Errorf("Relay: %v", err)
		}
		done <- how
	}()
	go g.conn.Write([]byte("login: "))
	typing.Write([]byte("uname\r"))
	typing.Write([]byte("ls\x1dnever sent"))
	if how := <-done; how != Detached {
		t.Fatalf("ended %v, want Detached", how)
	}
	deadline := time.Now().Add(time.Second)
	for g.received() != "uname\rls" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := g.received(); got != "uname\rls" {
		t.Errorf("the guest got %q, want what came before Ctrl-] only", got)
	}
	for !strings.Contains(screen.String(), "login: ") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !strings.Contains(screen.String(), "login: ") {
		t.Errorf("the terminal shows %q, want the guest's output", screen.String())
	}
}

func TestInputEnds(t *testing.T) {
	_, conn := newGuest(t)
	how, err := Relay(conn, strings.NewReader("echo hi\r"), io.Discard)
	if how != InputEnded || err != nil {
		t.Errorf("Relay = %v, %v; want InputEnded", how, err)
	}
}

func TestConsoleCloses(t *testing.T) {
	g, conn := newGuest(t)
	in, _ := io.Pipe() // nobody types
	go func() {
		g.conn.Write([]byte("bye"))
		g.conn.Close()
	}()
	var screen lockedBuffer
	how, err := Relay(conn, in, &screen)
	if how != Closed || err != nil || screen.String() != "bye" {
		t.Errorf("Relay = %v, %v, screen %q; want Closed after the guest's last words", how, err, screen.String())
	}
}
