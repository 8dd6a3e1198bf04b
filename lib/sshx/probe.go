package sshx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"virtdev/lib/exitcode"
	"virtdev/lib/unit"
)

// Probe timing. QEMU's user networking accepts a connection for the guest
// at once, whatever the guest's state. Until the guest's network is up the
// connection then stays silent (QEMU keeps knocking); once it is up, the
// guest refuses at once until its SSH server listens; a listening server
// greets within about 0.3 s on an idle host, but several seconds on a
// loaded one.
//
// So a new attempt starts every Interval while the earlier ones wait, which
// notices the server within one Interval of its coming up, but no more
// than MaxPending wait at once, and each is given Greeting to be greeted:
// on a loaded host, a swarm of connections each abandoned before a slow
// server could greet it would keep the server too busy ever to greet one
// (seen here, on a host loaded by several guests: a probe that gave up
// after 5 s with up to 20 connections waiting never got in within two
// minutes, while a lone ssh got in). Handshake bounds the rest, a full
// handshake taking about a second under TCG on an idle host.
const (
	Interval   = 250 * time.Millisecond
	MaxPending = 4
	Greeting   = 10 * time.Second
	Handshake  = 30 * time.Second
)

// Probe tells when a machine's SSH server really lets its user in.
type Probe struct {
	Addr   string
	User   string
	Signer ssh.Signer
	// Alive is asked before each attempt; its error ends the probe.
	Alive func() error

	Interval, Greeting, Handshake time.Duration
	MaxPending                    int
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
// public-key authentication, the first attempt starting at once.
//
// At most one attempt talks to the server at a time: an attempt greeted
// while another is mid-handshake gives up, so that a guest that comes up
// with several connections pending is not made to run several handshakes
// at once, which under TCG would slow every one of them.
//
// The server's host key is not checked. The probe sends nothing secret:
// the signature that authenticates it is bound to this one session and
// useless to whoever received it, and the result only decides when
// virtdev-wait returns. virtdev-ssh, which carries the user's session,
// pins the key.
func (p *Probe) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var talking atomic.Bool
	type result struct {
		err     error
		greeted bool
	}
	results := make(chan result)
	tick := time.NewTicker(p.Interval)
	defer tick.Stop()

	attempts, pending := 0, 0
	// The failure worth reporting is that of the latest attempt that
	// reached the server (a refused key), else the latest of any.
	var greetedErr, otherErr error
	launch := func() error {
		if err := p.Alive(); err != nil {
			return err
		}
		if talking.Load() || pending >= p.MaxPending {
			return nil
		}
		attempts++
		pending++
		go func() {
			greeted, err := p.attempt(ctx, &talking)
			if ctx.Err() != nil {
				return // ended by the probe's own end: nothing to learn
			}
			select {
			case results <- result{err, greeted}:
			case <-ctx.Done():
			}
		}()
		return nil
	}
	if err := launch(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			last := greetedErr
			if last == nil && pending > 0 {
				last = errNoGreeting
				if talking.Load() {
					last = errors.New("an SSH handshake with the guest was still under way")
				}
			}
			if last == nil {
				last = otherErr
			}
			return &NotReadyError{Cause: context.Cause(ctx), Attempts: attempts, Last: last}
		case r := <-results:
			pending--
			switch {
			case r.err == nil:
				return nil
			case r.greeted:
				greetedErr = r.err
			case !errors.Is(r.err, errSuperseded):
				otherErr = r.err
			}
		case <-tick.C:
			if err := launch(); err != nil {
				return err
			}
		}
	}
}

// errNoGreeting is an attempt that connected (QEMU accepts for the guest)
// but heard nothing from the guest's SSH server.
var errNoGreeting = errors.New("connected, but no SSH greeting from the guest (is it still booting?)")

// errSuperseded ends an attempt greeted while another one talks.
var errSuperseded = errors.New("superseded by an attempt already talking to the server")

// attempt dials once and authenticates. greeted reports whether the server
// spoke; an attempt that took the talking token gives it back at the end.
func (p *Probe) attempt(ctx context.Context, talking *atomic.Bool) (greeted bool, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(p.Greeting))

	g := &greetedConn{Conn: conn}
	g.first = func() error {
		if !talking.CompareAndSwap(false, true) {
			return errSuperseded
		}
		greeted = true
		return conn.SetDeadline(time.Now().Add(p.Handshake))
	}
	defer func() {
		if greeted {
			talking.Store(false)
		}
	}()
	c, _, _, err := ssh.NewClientConn(g, p.Addr, &ssh.ClientConfig{
		User:            p.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(p.Signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		var timeout net.Error
		switch {
		case g.err != nil:
			err = g.err
		case !greeted && errors.As(err, &timeout) && timeout.Timeout():
			err = errNoGreeting
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
	err   error
	seen  bool
}

func (g *greetedConn) Read(b []byte) (int, error) {
	n, err := g.Conn.Read(b)
	if n > 0 && !g.seen {
		g.seen = true
		if g.err = g.first(); g.err != nil {
			return 0, g.err
		}
	}
	return n, err
}

// WaitReady probes t until SSH lets its user in, within timeout, and fails
// at once when the machine stops: its unit goes down (ExitUnitDown), or its
// port file goes away (ExitNotRunning). It returns a *NotReadyError when
// the time is up.
func WaitReady(ctx context.Context, t Target, units *unit.Manager, signer ssh.Signer, timeout time.Duration) error {
	if err := CheckRunning(ctx, units, t); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, stopTimer := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("timed out after %s", timeout))
	defer stopTimer()
	go func() {
		st, err := units.WaitDown(ctx, t.Unit())
		switch {
		case ctx.Err() != nil:
		case err != nil:
			cancel(exitcode.Wrap(exitcode.NoUserManager, err, "lost track of %s", t.Unit()))
		default:
			cancel(UnitDown(t, st))
		}
	}()
	probe := &Probe{
		Addr:   t.Addr(),
		User:   "dev",
		Signer: signer,
		Alive: func() error {
			if _, err := os.Stat(t.Machine.Port); err != nil {
				return exitcode.New(exitcode.NotRunning, "%s stopped while waiting for SSH (its port file %s is gone)", t.Name, t.Machine.Port)
			}
			return nil
		},
		Interval:   Interval,
		Greeting:   Greeting,
		Handshake:  Handshake,
		MaxPending: MaxPending,
	}
	err := probe.Run(ctx)
	var nr *NotReadyError
	if errors.As(err, &nr) {
		if _, coded := exitcode.Of(nr.Cause); coded {
			return nr.Cause
		}
	}
	return err
}
