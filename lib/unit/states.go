package unit

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ActiveStates asks the calling user's systemd manager for the
// ActiveState (active, inactive, failed, …) of every loaded unit whose
// name matches one of the glob patterns, in one exchange of messages. A
// unit the manager has not loaded is absent from the map: it does not
// run.
//
// It is how the programs that only look (status, port, list) reach
// systemd. Connect sets up two connections, each greeted by the bus, and
// checks the manager answers before anything is asked: a few milliseconds
// that would be most of such a program's run. Here the authentication,
// the bus's greeting and the question are written at once, and only the
// answer is waited for. Bus addresses other than a plain socket path go
// through Connect.
//
// Failures are *BusError, the shared exit code for an unreachable user
// manager.
func ActiveStates(ctx context.Context, patterns ...string) (map[string]string, error) {
	return activeStates(ctx, os.Getenv, ConnectDeadline, patterns)
}

func activeStates(ctx context.Context, getenv func(string) string, deadline time.Duration, patterns []string) (map[string]string, error) {
	address, err := busAddress(getenv)
	if err != nil {
		return nil, &BusError{Err: err}
	}
	path, ok := socketPath(address)
	if !ok {
		m, err := connect(ctx, getenv, deadline)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		states, err := m.ActiveStates(ctx, patterns...)
		if err != nil {
			return nil, &BusError{Address: address, Err: err}
		}
		return states, nil
	}
	states, err := askOnce(ctx, path, deadline, patterns)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &BusError{Address: address, Err: err}
	}
	return states, nil
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

// socketPath is the socket of a bus address of the one form askOnce
// speaks: unix:path=…, the form systemd and dbus-daemon give user buses.
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

// Serials of askOnce's two calls.
const (
	helloSerial = 1
	listSerial  = 2
)

// askOnce speaks just enough D-Bus for one question: EXTERNAL
// authentication by the caller's uid, Hello (which a bus requires before
// anything else), ListUnitsByPatterns, all in one write; then it reads
// until the answer, skipping the bus's own messages (NameAcquired).
func askOnce(ctx context.Context, path string, deadline time.Duration, patterns []string) (map[string]string, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	conn, err := d.DialContext(dctx, "unix", path)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(deadline))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	hello := methodCall(helloSerial, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello")
	list := methodCall(listSerial, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		"org.freedesktop.systemd1.Manager", "ListUnitsByPatterns", []string{}, patterns)
	auth := "\x00AUTH EXTERNAL " + hex.EncodeToString([]byte(strconv.Itoa(os.Getuid()))) + "\r\nBEGIN\r\n"
	if _, err := conn.Write(slices.Concat([]byte(auth), hello, list)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("no answer to authentication: %w", err)
	}
	if !strings.HasPrefix(line, "OK ") {
		return nil, fmt.Errorf("authentication refused: %s", strings.TrimSpace(line))
	}
	for {
		msg, err := readMessage(r)
		if err != nil {
			return nil, err
		}
		if msg.kind != typeMethodReply && msg.kind != typeError {
			continue
		}
		if msg.kind == typeError && (msg.replySerial == helloSerial || msg.replySerial == listSerial) {
			return nil, msg.asError()
		}
		if msg.replySerial == listSerial {
			return msg.activeStates()
		}
	}
}
