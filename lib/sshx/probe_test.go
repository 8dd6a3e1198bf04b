package sshx

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Server behaviours before it is ready: what a booting guest behind QEMU's
// user networking does with a connection.
const (
	hangUp = iota // nothing listens in the guest: the connection ends
	silent        // the guest's network is not up: nothing is ever said
)

// testServer is an SSH server on 127.0.0.1 that lets in dev with one key,
// once it is ready.
type testServer struct {
	addr     string
	ready    atomic.Bool
	before   int
	conns    atomic.Int32 // connections accepted
	waiting  atomic.Int32 // connections held silent now
	maxWait  atomic.Int32 // the most held silent at once
	sessions atomic.Int32 // handshakes started
	mu       sync.Mutex
	open     []net.Conn
}

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startServer(t *testing.T, client ssh.Signer, before int) *testServer {
	t.Helper()
	config := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if meta.User() == "dev" && bytes.Equal(key.Marshal(), client.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("key refused for %s", meta.User())
		},
	}
	config.AddHostKey(newSigner(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: ln.Addr().String(), before: before}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.open {
			c.Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.mu.Lock()
			s.open = append(s.open, conn)
			s.mu.Unlock()
			switch {
			case s.ready.Load():
				s.sessions.Add(1)
				go func() {
					c, chans, reqs, err := ssh.NewServerConn(conn, config)
					if err != nil {
						return
					}
					go ssh.DiscardRequests(reqs)
					for ch := range chans {
						ch.Reject(ssh.Prohibited, "probe only")
					}
					c.Close()
				}()
			case s.before == hangUp:
				conn.Close()
			default:
				n := s.waiting.Add(1)
				for m := s.maxWait.Load(); n > m && !s.maxWait.CompareAndSwap(m, n); m = s.maxWait.Load() {
				}
				go func() {
					// The client's giving up shows as the end of its stream.
					io.Copy(io.Discard, conn)
					s.waiting.Add(-1)
				}()
			}
		}
	}()
	return s
}

func testProbe(addr string, signer ssh.Signer) *Probe {
	return &Probe{
		Addr: addr, User: "dev", Signer: signer,
		Alive:    func() error { return nil },
		Interval: 20 * time.Millisecond, Greeting: 100 * time.Millisecond, Handshake: 5 * time.Second,
		MaxPending: 4,
	}
}

func TestProbeReadyAtOnce(t *testing.T) {
	key := newSigner(t)
	s := startServer(t, key, hangUp)
	s.ready.Store(true)
	p := testProbe(s.addr, key)
	p.Interval = time.Hour // the first attempt must not wait for a tick
	start := time.Now()
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v against a ready server", d)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// While the guest is silent the pending attempts wait for a greeting that
// never comes; the server's coming up must still be noticed within about
// one interval, by a fresh attempt.
func TestProbeSilentThenReady(t *testing.T) {
	for name, before := range map[string]int{"hang up": hangUp, "silent": silent} {
		t.Run(name, func(t *testing.T) {
			key := newSigner(t)
			s := startServer(t, key, before)
			p := testProbe(s.addr, key)
			readyAt := make(chan time.Time, 1)
			time.AfterFunc(300*time.Millisecond, func() {
				s.ready.Store(true)
				readyAt <- time.Now()
			})
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(<-readyAt); d > time.Second {
				t.Errorf("noticed %v after the server came up", d)
			}
			if s.conns.Load() < 5 {
				t.Errorf("only %d attempts in 300 ms at a 20 ms interval", s.conns.Load())
			}
			if m := s.maxWait.Load(); m > int32(p.MaxPending) {
				t.Errorf("%d attempts waited at once, want at most %d", m, p.MaxPending)
			}
		})
	}
}

func TestProbeReportsRefusedKey(t *testing.T) {
	s := startServer(t, newSigner(t), hangUp)
	s.ready.Store(true)
	p := testProbe(s.addr, newSigner(t))
	ctx, cancel := context.WithTimeoutCause(context.Background(), 300*time.Millisecond, errors.New("time is up"))
	defer cancel()
	err := p.Run(ctx)
	var nr *NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("got %v, want a NotReadyError", err)
	}
	if nr.Attempts < 2 || nr.Cause.Error() != "time is up" || nr.Last == nil || !strings.Contains(nr.Last.Error(), "unable to authenticate") {
		t.Errorf("got %+v: want several attempts, the context's cause and the refused key", nr)
	}
	// One handshake at a time: none overlapped, so each attempt that
	// reached the server ran its own handshake.
	if s.sessions.Load() > int32(nr.Attempts) {
		t.Errorf("%d handshakes for %d attempts", s.sessions.Load(), nr.Attempts)
	}
}

func TestProbeStopsWhenNotAlive(t *testing.T) {
	key := newSigner(t)
	s := startServer(t, key, silent)
	p := testProbe(s.addr, key)
	stopped := errors.New("stopped")
	var calls atomic.Int32
	p.Alive = func() error {
		if calls.Add(1) > 3 {
			return stopped
		}
		return nil
	}
	start := time.Now()
	if err := p.Run(context.Background()); !errors.Is(err, stopped) {
		t.Fatalf("got %v, want the Alive error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v to stop", d)
	}
}

func TestAttemptGivesUpOnSilence(t *testing.T) {
	key := newSigner(t)
	s := startServer(t, key, silent)
	p := testProbe(s.addr, key)
	p.Greeting = 50 * time.Millisecond
	var talking atomic.Bool
	start := time.Now()
	greeted, err := p.attempt(context.Background(), &talking)
	if greeted || !errors.Is(err, errNoGreeting) {
		t.Errorf("got greeted=%v, %v; want errNoGreeting", greeted, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %v for a greeting, want about 50ms", d)
	}
}

// An attempt greeted while another one talks gives up at once.
func TestAttemptSupersededWhileAnotherTalks(t *testing.T) {
	key := newSigner(t)
	s := startServer(t, key, hangUp)
	s.ready.Store(true)
	p := testProbe(s.addr, key)
	var talking atomic.Bool
	talking.Store(true)
	if greeted, err := p.attempt(context.Background(), &talking); greeted || !errors.Is(err, errSuperseded) {
		t.Errorf("got greeted=%v, %v; want errSuperseded", greeted, err)
	}
	if !talking.Load() {
		t.Error("the superseded attempt released the other's token")
	}
}
