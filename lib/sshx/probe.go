package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// Probe timing. The machine's network (lib/netstack) accepts a connection
// on the SSH forward at once, whatever the guest's state, and then dials
// the guest. Until the guest's network is up the connection stays silent
// (for up to 5 s, then it is closed); once it is up, the guest refuses at
// once, and the connection is closed, until its SSH server listens; a
// listening server greets within about 0.3 s on an idle host, but several
// seconds on a loaded one.
//
// So the probe makes one attempt at a time, a new one at most every
// Interval: while the guest refuses, that notices its server within one
// Interval of its coming up. An attempt that hears nothing gives up after
// a greeting deadline. Before the guest has shown any sign of life, that
// silence means its network is not up, and the deadline stays Greeting,
// so that each new attempt knocks afresh. Once the guest has answered (a
// refusal or a greeting), silence means a server too busy to greet, and
// the deadline doubles with every silent attempt, up to MaxGreeting: a
// swarm of connections each abandoned before a slow server could greet it
// would keep it too busy ever to greet one (seen on a host loaded by
// several guests, with a probe that kept four attempts pending). Handshake
// bounds the rest, a full handshake taking about a second under TCG on an
// idle host.
const (
	Interval    = 250 * time.Millisecond
	Greeting    = time.Second
	MaxGreeting = 16 * time.Second
	Handshake   = 30 * time.Second
)

// Probe tells when a machine's SSH server really lets its user in.
type Probe struct {
	Addr   string
	User   string
	Signer ssh.Signer
	// HostKey checks the server's host key (see HostKeyCallback); a key
	// it refuses ends the probe at once.
	HostKey ssh.HostKeyCallback

	Interval, Greeting, MaxGreeting, Handshake time.Duration
}

// NotReadyError is a probe that ended, by its context, before any attempt
// authenticated.
type NotReadyError struct {
	Cause    error // context.Cause of the probe's context
	Attempts int
	Last     error // the last attempt's failure, if any ended
}

func (e *NotReadyError) Error() string {
	msg := fmt.Sprintf("SSH not ready after %d attempts: %v", e.Attempts, e.Cause)
	if e.Last != nil {
		msg += "; last attempt: " + e.Last.Error()
	}
	return msg
}

func (e *NotReadyError) Unwrap() error { return e.Cause }

// Run returns nil once an attempt completes the SSH handshake and
// public-key authentication, the first attempt starting at once. A host
// key that HostKey refuses ends it at once with HostKey's error: what
// answers is not the machine, and will not become it by waiting.
func (p *Probe) Run(ctx context.Context) error {
	attempts := 0
	greeting := p.Greeting
	alive := false // the guest has refused or greeted
	// The failure worth reporting is that of the latest attempt that
	// reached the server (a refused key), else the latest of any.
	var greetedErr, otherErr error
	for {
		began := time.Now()
		attempts++
		greeted, err := p.attempt(ctx, greeting)
		if err == nil {
			return nil
		}
		var refused *HostKeyError
		if errors.As(err, &refused) {
			return refused
		}
		if ctx.Err() != nil {
			last := greetedErr
			if last == nil {
				last = otherErr
			}
			return &NotReadyError{Cause: context.Cause(ctx), Attempts: attempts, Last: last}
		}
		switch {
		case greeted:
			greetedErr, alive = err, true
		case errors.Is(err, errNoGreeting):
			otherErr = err
			if alive {
				greeting = min(2*greeting, p.MaxGreeting)
			}
		default:
			otherErr, alive = err, true
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(began.Add(p.Interval))):
		}
	}
}

// errNoGreeting is an attempt that connected (the forward accepts for the
// guest) but heard nothing from the guest's SSH server.
var errNoGreeting = errors.New("connected, but no SSH greeting from the guest (is it still booting?)")

// attempt dials once and authenticates, giving the server greeting to
// speak first. greeted reports whether it did.
func (p *Probe) attempt(ctx context.Context, greeting time.Duration) (greeted bool, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(greeting))
	g := &greetedConn{Conn: conn, first: func() error {
		greeted = true
		return conn.SetDeadline(time.Now().Add(p.Handshake))
	}}
	c, _, _, err := ssh.NewClientConn(g, p.Addr, &ssh.ClientConfig{
		User:            p.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(p.Signer)},
		HostKeyCallback: p.HostKey,
	})
	if err != nil {
		var timeout net.Error
		if !greeted && errors.As(err, &timeout) && timeout.Timeout() {
			err = errNoGreeting
		}
		if !greeted && errors.Is(err, io.EOF) {
			err = errors.New("the guest closed the connection (its SSH server is not listening yet)")
		}
		return greeted, err
	}
	c.Close()
	return true, nil
}

// greetedConn runs first when the first bytes from the server arrive.
type greetedConn struct {
	net.Conn
	first func() error
	seen  bool
}

func (g *greetedConn) Read(b []byte) (int, error) {
	n, err := g.Conn.Read(b)
	if n > 0 && !g.seen {
		g.seen = true
		if ferr := g.first(); ferr != nil {
			return 0, ferr
		}
	}
	return n, err
}
