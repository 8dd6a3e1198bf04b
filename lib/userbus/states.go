package userbus

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
// systemd. unit.Connect sets up two connections, each greeted by the
// bus, and checks the manager answers before anything is asked: a few
// milliseconds that would be most of such a program's run. Here the
// authentication, the bus's greeting and the question are written at
// once, and only the answer is waited for. It speaks to a bus at a socket
// path or an abstract socket name, the addresses systemd and dbus-daemon
// give user buses; any other address is a *BusError that says so.
type StatesQuestion struct {
	patterns []string
	address  string
	err      error // before anything was sent: no bus address, or one not spoken here
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
	q := &StatesQuestion{patterns: patterns}
	q.address, q.err = Address(getenv)
	if q.err != nil {
		return q
	}
	var path string
	if path, q.err = socketPath(q.address); q.err == nil {
		q.exchange = unixsock.Start(path, q.question(), deadline, q.answer)
	}
	return q
}

// Exchange is what unixsock.Wait serves; nil when there is nothing to
// wait for (the question could not be put).
func (q *StatesQuestion) Exchange() *unixsock.Exchange { return q.exchange }

// States is the answer, once unixsock.Wait has returned. ctx's own end
// is returned as it is; any other failure is a *BusError.
func (q *StatesQuestion) States(ctx context.Context) (map[string]string, error) {
	if q.err != nil {
		return nil, &BusError{Address: q.address, Err: q.err}
	}
	if err := q.exchange.Err(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &BusError{Address: q.address, Err: err}
	}
	return q.states, nil
}

// socketPath is the socket of a bus address of the forms a
// StatesQuestion speaks, unix:path=… and unix:abstract=… (an abstract
// name, which connect(2) is given with a leading @), the forms systemd
// and dbus-daemon give user buses. Any other is refused, with what to
// set instead.
func socketPath(address string) (string, error) {
	rest, ok := strings.CutPrefix(address, "unix:")
	if ok && !strings.Contains(rest, ";") {
		for _, kv := range strings.Split(rest, ",") {
			key, value, _ := strings.Cut(kv, "=")
			if key != "path" && key != "abstract" {
				continue
			}
			name, err := url.PathUnescape(value)
			if err != nil || name == "" {
				break
			}
			if key == "abstract" {
				name = "@" + name
			}
			return name, nil
		}
	}
	return "", errors.New("virtdev's programs that only look at machines speak to a user bus at a unix:path= or unix:abstract= address only; " +
		"set DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus, where systemd's user bus listens")
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
