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

// Server behaviours before it is ready: what a booting guest behind its
// machine's network does with a connection on the SSH forward.
const (
	hangUp = iota // nothing listens in the guest: the connection ends
	silent        // the guest's network is not up: nothing is ever said
)

// testServer is an SSH server on 127.0.0.1 that lets in dev with one key,
// once it is ready.
type testServer struct {
	addr     string
	hostKey  ssh.Signer
	ready    atomic.Bool
	before   int
	conns    atomic.Int32 // connections accepted
	sessions atomic.Int32 // handshakes started
	// refuseFirst is how many connections are refused before the
	// behaviour before readiness applies.
	refuseFirst atomic.Int32
	mu          sync.Mutex
	open        []net.Conn
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
	hostKey := newSigner(t)
	config.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: ln.Addr().String(), hostKey: hostKey, before: before}
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
			case s.refuseFirst.Add(-1) >= 0:
				conn.Close()
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
				// Held open, silent, until the client gives up.
				go io.Copy(io.Discard, conn)
			}
		}
	}()
	return s
}

// testProbe probes s, whose host key it knows.
func testProbe(s *testServer, signer ssh.Signer) *Probe {
	return &Probe{
		Addr: s.addr, User: "dev", Signer: signer, HostKey: ssh.FixedHostKey(s.hostKey.PublicKey()),
		Interval: 20 * time.Millisecond, Greeting: 100 * time.Millisecond, MaxGreeting: 800 * time.Millisecond,
		Handshake: 5 * time.Second,
	}
}

func TestProbeReadyAtOnce(t *testing.T) {
	key := newSigner(t)
	s := startServer(t, key, hangUp)
	s.ready.Store(true)
	p := testProbe(s, key)
	p.Interval = time.Hour // the first attempt must not wait for an interval
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

// Whether the guest refuses or is silent, its server's coming up is
// noticed soon.
func TestProbeNoticesTheServerComingUp(t *testing.T) {
	for name, c := range map[string]struct {
		before int
		within time.Duration
	}{
		// A refusing guest is asked again every interval.
		"hang up": {hangUp, 300 * time.Millisecond},
		// A silent one, after each greeting deadline.
		"silent": {silent, 500 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			key := newSigner(t)
			s := startServer(t, key, c.before)
			p := testProbe(s, key)
			readyAt := make(chan time.Time, 1)
			time.AfterFunc(500*time.Millisecond, func() {
				s.ready.Store(true)
				readyAt <- time.Now()
			})
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(<-readyAt); d > c.within {
				t.Errorf("noticed %v after the server came up, want within %v", d, c.within)
			}
		})
	}
}

// A guest that has shown life but does not greet has a busy server: each
// silent attempt waits twice as long as the one before, so the probe
// makes few connections instead of a swarm.
func TestProbeBacksOffFromABusyServer(t *testing.T) {
	key := newSigner(t)
	s := startServer(t, key, silent)
	p := testProbe(s, key)
	p.Greeting = 50 * time.Millisecond
	p.MaxGreeting = time.Hour
	// The guest refuses first (its network is up), then stays silent.
	s.refuseFirst.Store(1)
	ctx, cancel := context.WithTimeout(context.Background(), 1600*time.Millisecond)
	defer cancel()
	err := p.Run(ctx)
	var nr *NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("got %v, want NotReadyError", err)
	}
	// 50+100+200+400+800 ms fill the time: the refusal and five more.
	if n := s.conns.Load(); n > 7 {
		t.Errorf("%d connections in 1.6 s; a fixed 50 ms deadline would make 20 or more", n)
	}
	if !errors.Is(nr.Last, errNoGreeting) {
		t.Errorf("last failure %v, want no greeting", nr.Last)
	}
}

// Before the guest shows life, silence keeps the short deadline: each new
// attempt knocks afresh.
func TestProbeKeepsKnockingOnASilentGuest(t *testing.T) {
	key := newSigner(t)
	s := startServer(t, key, silent)
	p := testProbe(s, key)
	p.Greeting = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	p.Run(ctx)
	if n := s.conns.Load(); n < 6 {
		t.Errorf("only %d attempts in 600 ms at a 50 ms deadline", n)
	}
}

func TestProbeReportsRefusedKey(t *testing.T) {
	s := startServer(t, newSigner(t), hangUp)
	s.ready.Store(true)
	p := testProbe(s, newSigner(t))
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
}

// A server with another host key is not the machine, and will not become
// it by waiting: the probe ends at its first greeting.
func TestProbeEndsAtARefusedHostKey(t *testing.T) {
	key := newSigner(t)
	s := startServer(t, key, hangUp)
	s.ready.Store(true)
	p := testProbe(s, key)
	refusal := &HostKeyError{Name: "p"}
	p.HostKey = func(string, net.Addr, ssh.PublicKey) error { return refusal }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got *HostKeyError
	if err := p.Run(ctx); !errors.As(err, &got) || got != refusal {
		t.Fatalf("got %v, want the host key callback's refusal", err)
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestAttemptGivesUpOnSilence(t *testing.T) {
	key := newSigner(t)
	s := startServer(t, key, silent)
	p := testProbe(s, key)
	start := time.Now()
	greeted, err := p.attempt(context.Background(), 50*time.Millisecond)
	if greeted || !errors.Is(err, errNoGreeting) {
		t.Errorf("got greeted=%v, %v; want errNoGreeting", greeted, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %v for a greeting, want about 50ms", d)
	}
}
