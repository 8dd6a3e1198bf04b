package unit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"virtdev/lib/unixsock"
)

// ActiveStates asks the calling user's systemd manager for the
// ActiveState (active, inactive, failed, …) of every loaded unit whose
// name matches one of the glob patterns, in one exchange of messages. A
// unit the manager has not loaded is absent from the map: it does not
// run.
//
// It is AskActiveStates for a program with nothing else to ask meanwhile.
// Failures are *BusError, the shared exit code for an unreachable user
// manager.
func ActiveStates(ctx context.Context, patterns ...string) (map[string]string, error) {
	q := AskActiveStates(patterns...)
	unixsock.Wait(ctx, q.Exchange())
	return q.States(ctx)
}

// StatesQuestion is ActiveStates put to the bus: AskActiveStates starts
// it, unixsock.Wait serves it (with any other question the program puts
// at the same time, such as QEMU's status), and States reads the answer.
//
// It is how the programs that only look (status, port, list) reach
// systemd. Connect sets up two connections, each greeted by the bus, and
// checks the manager answers before anything is asked: a few milliseconds
// that would be most of such a program's run. Here the authentication,
// the bus's greeting and the question are written at once, and only the
// answer is waited for. Bus addresses other than a plain socket path go
// through Connect, when States is called.
type StatesQuestion struct {
	getenv   func(string) string
	deadline time.Duration
	patterns []string
	address  string
	err      error // before anything was sent: no bus address
	exchange *unixsock.Exchange
	// What the answer has shown so far: the authentication's outcome,
	// and the bytes of whole messages looked at.
	authenticated bool
	seen          int
	states        map[string]string
}

// AskActiveStates starts ActiveStates.
func AskActiveStates(patterns ...string) *StatesQuestion {
	return askActiveStates(os.Getenv, ConnectDeadline, patterns)
}

func askActiveStates(getenv func(string) string, deadline time.Duration, patterns []string) *StatesQuestion {
	q := &StatesQuestion{getenv: getenv, deadline: deadline, patterns: patterns}
	q.address, q.err = busAddress(getenv)
	if q.err != nil {
		return q
	}
	if path, ok := socketPath(q.address); ok {
		q.exchange = unixsock.Start(path, q.question(), deadline, q.answer)
	}
	return q
}

// Exchange is what unixsock.Wait serves; nil when there is nothing to
// wait for.
func (q *StatesQuestion) Exchange() *unixsock.Exchange { return q.exchange }

// States is the answer, once unixsock.Wait has returned (for a bus
// address Exchange does not speak, it asks through Connect now). ctx's
// own end is returned as it is; any other failure is a *BusError.
func (q *StatesQuestion) States(ctx context.Context) (map[string]string, error) {
	if q.err != nil {
		return nil, &BusError{Err: q.err}
	}
	if q.exchange == nil {
		m, err := connect(ctx, q.getenv, q.deadline)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		states, err := m.ActiveStates(ctx, q.patterns...)
		if err != nil {
			return nil, &BusError{Address: q.address, Err: err}
		}
		return states, nil
	}
	if err := q.exchange.Err(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &BusError{Address: q.address, Err: err}
	}
	return q.states, nil
}

// ActiveStates is the package function on an open connection.
func (m *Manager) ActiveStates(ctx context.Context, patterns ...string) (map[string]string, error) {
	units, err := m.conn.ListUnitsByPatternsContext(ctx, nil, patterns)
	if err != nil {
		return nil, fmt.Errorf("cannot list the units matching %s: %w", strings.Join(patterns, " "), err)
	}
	states := make(map[string]string, len(units))
	for _, u := range units {
		states[u.Name] = u.ActiveState
	}
	return states, nil
}

// socketPath is the socket of a bus address of the one form a
// StatesQuestion speaks: unix:path=…, the form systemd and dbus-daemon
// give user buses.
func socketPath(address string) (string, bool) {
	rest, ok := strings.CutPrefix(address, "unix:")
	if !ok || strings.Contains(rest, ";") {
		return "", false
	}
	for _, kv := range strings.Split(rest, ",") {
		if value, ok := strings.CutPrefix(kv, "path="); ok {
			path, err := url.PathUnescape(value)
			return path, err == nil && path != ""
		}
	}
	return "", false
}

// Serials of the question's two calls.
const (
	helloSerial = 1
	listSerial  = 2
)

// question speaks just enough D-Bus for one question, all in one write:
// EXTERNAL authentication by the caller's uid, Hello (which a bus
// requires before anything else), and ListUnitsByPatterns.
func (q *StatesQuestion) question() []byte {
	hello := methodCall(helloSerial, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello")
	list := methodCall(listSerial, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		"org.freedesktop.systemd1.Manager", "ListUnitsByPatterns", []string{}, q.patterns)
	auth := "\x00AUTH EXTERNAL " + hex.EncodeToString([]byte(strconv.Itoa(os.Getuid()))) + "\r\nBEGIN\r\n"
	return slices.Concat([]byte(auth), hello, list)
}

// answer reads the bus's answer as it arrives: the authentication's
// outcome, a line, then messages, of which the bus's own (NameAcquired)
// and Hello's reply are skipped until the list's reply.
func (q *StatesQuestion) answer(read []byte, _ bool) (bool, error) {
	if !q.authenticated {
		line, _, complete := bytes.Cut(read, []byte("\n"))
		if !complete {
			return false, nil
		}
		if !bytes.HasPrefix(line, []byte("OK ")) {
			return false, fmt.Errorf("authentication refused: %s", bytes.TrimSpace(line))
		}
		q.authenticated, q.seen = true, len(line)+1
	}
	for {
		r := bytes.NewReader(read[q.seen:])
		msg, err := readMessage(r)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil // the rest is still to come
		}
		if err != nil {
			return false, err
		}
		q.seen = len(read) - r.Len()
		if msg.kind != typeMethodReply && msg.kind != typeError {
			continue
		}
		if msg.kind == typeError && (msg.replySerial == helloSerial || msg.replySerial == listSerial) {
			return false, msg.asError()
		}
		if msg.replySerial == listSerial {
			q.states, err = msg.activeStates()
			return err == nil, err
		}
	}
}
