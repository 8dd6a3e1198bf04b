package userbus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"virtdev/lib/unixsock"
)

// fakeBus answers a StatesQuestion as a user bus with systemd behind it would: it
// checks the authentication and the calls, and answers with a signal of
// the bus in between, as dbus-daemon sends NameAcquired.
type fakeBus struct {
	auth      string            // the first line to answer, "OK …" or a refusal
	listError string            // when set, ListUnitsByPatterns fails with this name
	units     map[string]string // loaded units and their ActiveState
	patterns  chan []string     // what ListUnitsByPatterns was asked
	// bigEndian answers in big-endian order, as a bus on such a host
	// passes on its messages.
	bigEndian bool
}

func (f *fakeBus) order() binary.ByteOrder {
	if f.bigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

func (f *fakeBus) serve(t *testing.T, c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	if !strings.HasPrefix(line, "\x00AUTH EXTERNAL ") {
		t.Errorf("authentication %q", line)
		return
	}
	if line, _ := r.ReadString('\n'); line != "BEGIN\r\n" {
		t.Errorf("after AUTH: %q", line)
		return
	}
	c.Write([]byte(f.auth))
	if !strings.HasPrefix(f.auth, "OK ") {
		return
	}
	var out bytes.Buffer
	for i := 0; i < 2; i++ {
		msg, err := dbus.DecodeMessage(r)
		if err != nil {
			t.Errorf("message %d: %v", i, err)
			return
		}
		member, _ := msg.Headers[dbus.FieldMember].Value().(string)
		serial := msg.Serial()
		switch member {
		case "Hello":
			reply(t, &out, f.order(), serial, ":1.42")
			signal(t, &out, f.order(), "NameAcquired", ":1.42")
		case "ListUnitsByPatterns":
			f.patterns <- msg.Body[1].([]string)
			if f.listError != "" {
				errorReply(t, &out, f.order(), serial, f.listError)
				continue
			}
			var units []listedUnit
			for name, state := range f.units {
				units = append(units, listedUnit{Name: name, LoadState: "loaded", ActiveState: state, Path: "/u", JobPath: "/"})
			}
			reply(t, &out, f.order(), serial, units)
		default:
			t.Errorf("unexpected call %s", member)
		}
	}
	c.Write(out.Bytes())
}

func reply(t *testing.T, out *bytes.Buffer, order binary.ByteOrder, to uint32, body any) {
	headers := map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(to),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(body)),
	}
	if err := encodeMessage(out, &dbus.Message{Type: dbus.TypeMethodReply, Headers: headers, Body: []any{body}}, 100+to, order); err != nil {
		t.Fatal(err)
	}
}

func errorReply(t *testing.T, out *bytes.Buffer, order binary.ByteOrder, to uint32, name string) {
	headers := map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(to),
		dbus.FieldErrorName:   dbus.MakeVariant(name),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf("")),
	}
	if err := encodeMessage(out, &dbus.Message{Type: dbus.TypeError, Headers: headers, Body: []any{"no such thing"}}, 200+to, order); err != nil {
		t.Fatal(err)
	}
}

func signal(t *testing.T, out *bytes.Buffer, order binary.ByteOrder, member, arg string) {
	headers := map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/DBus")),
		dbus.FieldInterface: dbus.MakeVariant("org.freedesktop.DBus"),
		dbus.FieldMember:    dbus.MakeVariant(member),
		dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf(arg)),
	}
	if err := encodeMessage(out, &dbus.Message{Type: dbus.TypeSignal, Headers: headers, Body: []any{arg}}, 300, order); err != nil {
		t.Fatal(err)
	}
}

// startFakeBus serves f on a socket and returns the environment that
// points at it.
func startFakeBus(t *testing.T, f *fakeBus) func(string) string {
	path := filepath.Join(t.TempDir(), "bus")
	return serveFakeBus(t, f, path, "unix:path="+path+",guid=0123")
}

// serveFakeBus serves f on the socket listen names (a path, or an abstract
// name after @) and returns the environment whose bus address is address.
func serveFakeBus(t *testing.T, f *fakeBus, listen, address string) func(string) string {
	l, err := net.Listen("unix", listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f.patterns = make(chan []string, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.serve(t, c)
		}
	}()
	return func(k string) string {
		if k == "DBUS_SESSION_BUS_ADDRESS" {
			return address
		}
		return ""
	}
}

// dbus-daemon, when told to, listens on an abstract socket.
func TestActiveStatesOverAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("/tmp/virtdev-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	units := map[string]string{"virtdev-a.service": "active"}
	getenv := serveFakeBus(t, &fakeBus{auth: "OK 01\r\n", units: units}, "@"+name, "unix:abstract="+name+",guid=01")
	states, err := testActiveStates(getenv, time.Second, "virtdev-*.service")
	if err != nil || !maps.Equal(states, units) {
		t.Fatalf("states = %v, %v; want %v", states, err, units)
	}
}

func TestActiveStatesAsksOnce(t *testing.T) {
	for _, bigEndian := range []bool{false, true} {
		for _, units := range []map[string]string{
			{},
			{"virtdev-a.service": "active"},
			{"virtdev-a.service": "active", "virtdev-b.service": "failed", "virtdev-long-name-of-seven.service": "deactivating"},
		} {
			f := &fakeBus{auth: "OK 0123456789abcdef\r\n", units: units, bigEndian: bigEndian}
			getenv := startFakeBus(t, f)
			states, err := testActiveStates(getenv, time.Second, "virtdev-*.service", "x.service")
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(states, units) {
				t.Errorf("big-endian %v: states = %v, want %v", bigEndian, states, units)
			}
			if got := <-f.patterns; !slices.Equal(got, []string{"virtdev-*.service", "x.service"}) {
				t.Errorf("asked for %q", got)
			}
		}
	}
}

// A message cut short, or longer than the protocol allows, is an error,
// never a panic or a huge allocation.
func TestReadMessageRefusesDamage(t *testing.T) {
	var whole bytes.Buffer
	units := []listedUnit{{Name: "virtdev-a.service", ActiveState: "active", Path: "/u", JobPath: "/"}}
	reply(t, &whole, binary.LittleEndian, listSerial, units)
	if m, err := readMessage(bytes.NewReader(whole.Bytes())); err != nil {
		t.Fatal(err)
	} else if states, err := m.activeStates(); err != nil || states["virtdev-a.service"] != "active" {
		t.Fatalf("states = %v, %v", states, err)
	}
	for n := range whole.Len() {
		if _, err := readMessage(bytes.NewReader(whole.Bytes()[:n])); err == nil {
			t.Errorf("a message cut at byte %d of %d was read", n, whole.Len())
		}
	}
	huge := bytes.Clone(whole.Bytes())
	binary.LittleEndian.PutUint32(huge[4:], 0xffffffff)
	if _, err := readMessage(bytes.NewReader(huge)); err == nil || !strings.Contains(err.Error(), "more than the protocol allows") {
		t.Errorf("a body of 4 GiB: %v", err)
	}
	// A body shorter than its array says.
	short := bytes.Clone(whole.Bytes())
	m, err := readMessage(bytes.NewReader(short))
	if err != nil {
		t.Fatal(err)
	}
	m.body = m.body[:len(m.body)-3]
	if _, err := m.activeStates(); err == nil {
		t.Error("a body cut short was read")
	}
}

func TestActiveStatesFailures(t *testing.T) {
	for name, f := range map[string]*fakeBus{
		"refused":   {auth: "REJECTED EXTERNAL\r\n"},
		"no answer": {auth: ""},
		"error":     {auth: "OK 01\r\n", listError: "org.freedesktop.DBus.Error.ServiceUnknown"},
	} {
		t.Run(name, func(t *testing.T) {
			getenv := startFakeBus(t, f)
			_, err := testActiveStates(getenv, 200*time.Millisecond, "x.service")
			var bus *BusError
			if !errors.As(err, &bus) || !strings.Contains(bus.Address, "unix:path=") {
				t.Fatalf("err = %v, want a *BusError naming the address", err)
			}
			if f.listError != "" && !strings.Contains(err.Error(), f.listError) {
				t.Errorf("the error does not name the D-Bus error: %v", err)
			}
		})
	}
}

func TestSocketPath(t *testing.T) {
	for address, want := range map[string]string{
		"unix:path=/run/user/1000/bus":           "/run/user/1000/bus",
		"unix:path=/run/user/1000/bus,guid=abcd": "/run/user/1000/bus",
		"unix:guid=abcd,path=/a%20b/bus":         "/a b/bus",
		"unix:abstract=/tmp/dbus-x,guid=abcd":    "@/tmp/dbus-x",
		"unix:tmpdir=/tmp":                       "",
		"tcp:host=localhost,port=1":              "",
		"unix:path=/a;unix:path=/b":              "",
		"unix:path=":                             "",
	} {
		got, err := socketPath(address)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("socketPath(%q) = %q, %v; want %q", address, got, err, want)
		}
	}
}

// A bus address the question does not speak is refused before anything
// is sent, as the failure to reach the manager, naming the address.
func TestActiveStatesRefusesOtherAddresses(t *testing.T) {
	getenv := func(k string) string {
		if k == "DBUS_SESSION_BUS_ADDRESS" {
			return "tcp:host=localhost,port=1"
		}
		return ""
	}
	q := askActiveStates(getenv, time.Second, []string{"x.service"})
	if q.Exchange() != nil {
		t.Fatal("a TCP bus was connected to")
	}
	_, err := q.States(context.Background())
	var bus *BusError
	if !errors.As(err, &bus) || bus.Address != "tcp:host=localhost,port=1" || !strings.Contains(err.Error(), "unix:path=") {
		t.Fatalf("err = %v, want a *BusError naming the address and the fix", err)
	}
}

// listedUnit is one entry of ListUnitsByPatterns' answer, as godbus
// encodes it: the fake bus answers through godbus, so that the question's own
// wire format is checked against another implementation both ways.
type listedUnit struct {
	Name, Description, LoadState, ActiveState, SubState, Following string
	Path                                                           dbus.ObjectPath
	JobID                                                          uint32
	JobType                                                        string
	JobPath                                                        dbus.ObjectPath
}

// encodeMessage appends msg as godbus encodes it in the given byte order,
// with the given serial: godbus numbers the messages of its own
// connections only, so the serial is written into the encoded header, the
// fourth field after the endianness, type, flags and version bytes and
// the body length.
func encodeMessage(out *bytes.Buffer, msg *dbus.Message, serial uint32, order binary.ByteOrder) error {
	var b bytes.Buffer
	if err := msg.EncodeTo(&b, order); err != nil {
		return err
	}
	data := b.Bytes()
	order.PutUint32(data[8:12], serial)
	out.Write(data)
	return nil
}

// testActiveStates is ActiveStates with the environment and deadline a
// test gives.
func testActiveStates(getenv func(string) string, deadline time.Duration, patterns ...string) (map[string]string, error) {
	q := askActiveStates(getenv, deadline, patterns)
	unixsock.Wait(context.Background(), q.Exchange())
	return q.States(context.Background())
}
