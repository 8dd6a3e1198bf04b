package userbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The D-Bus wire format, as much of it as a StatesQuestion speaks: method calls
// whose arguments are arrays of strings, and the messages a bus sends
// back. It is written out here rather than left to godbus, whose encoder
// and decoder work by reflection: for a program that asks the bus one
// question and ends, they cost more than the exchange itself (half a
// millisecond of a virtdev-status run of three; bench/access.sh).

// Message types and header fields, from the D-Bus specification.
const (
	typeMethodCall  = 1
	typeMethodReply = 2
	typeError       = 3

	fieldPath        = 1
	fieldInterface   = 2
	fieldMember      = 3
	fieldErrorName   = 4
	fieldReplySerial = 5
	fieldDestination = 6
	fieldSignature   = 8
)

// maxMessage is the largest message the specification allows.
const maxMessage = 128 << 20

// encoder appends values in little-endian order, each aligned as the
// specification wants it, counted from the message's first byte.
type encoder struct{ b []byte }

func (e *encoder) align(n int) {
	for len(e.b)%n != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) uint32(v uint32) {
	e.align(4)
	e.b = binary.LittleEndian.AppendUint32(e.b, v)
}

// string encodes a string or an object path.
func (e *encoder) string(s string) {
	e.uint32(uint32(len(s)))
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

func (e *encoder) signature(s string) {
	e.b = append(e.b, byte(len(s)))
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

// strings encodes an array of strings (as): its length in bytes, then
// the strings, which need no padding after the length.
func (e *encoder) strings(list []string) {
	e.uint32(0)
	at := len(e.b) - 4
	for _, s := range list {
		e.string(s)
	}
	binary.LittleEndian.PutUint32(e.b[at:], uint32(len(e.b)-at-4))
}

// field encodes one header field: a struct (aligned to 8) of its code
// and a variant of the given signature.
func (e *encoder) field(code byte, signature, value string) {
	e.align(8)
	e.b = append(e.b, code)
	e.signature(signature)
	if signature == "g" {
		e.signature(value)
		return
	}
	e.string(value)
}

// methodCall encodes a call whose arguments are each an array of strings.
func methodCall(serial uint32, destination, path, iface, member string, args ...[]string) []byte {
	var body encoder
	signature := ""
	for _, a := range args {
		body.strings(a)
		signature += "as"
	}
	h := encoder{b: []byte{'l', typeMethodCall, 0, 1}}
	h.uint32(uint32(len(body.b)))
	h.uint32(serial)
	h.uint32(0) // the fields' length, once known
	h.field(fieldPath, "o", path)
	h.field(fieldInterface, "s", iface)
	h.field(fieldMember, "s", member)
	h.field(fieldDestination, "s", destination)
	if signature != "" {
		h.field(fieldSignature, "g", signature)
	}
	binary.LittleEndian.PutUint32(h.b[12:], uint32(len(h.b)-16))
	// The body starts at a multiple of 8, so its own alignment holds.
	h.align(8)
	return append(h.b, body.b...)
}

// message is a received message, with what a StatesQuestion reads of it.
type message struct {
	kind        byte
	replySerial uint32
	errorName   string
	signature   string
	order       binary.ByteOrder
	body        []byte
}

// readMessage reads one whole message.
func readMessage(r io.Reader) (*message, error) {
	var fixed [16]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return nil, err
	}
	m := &message{kind: fixed[1]}
	switch fixed[0] {
	case 'l':
		m.order = binary.LittleEndian
	case 'B':
		m.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("not a D-Bus message (byte order %q)", fixed[0])
	}
	bodyLen, fieldsLen := m.order.Uint32(fixed[4:]), m.order.Uint32(fixed[12:])
	headerLen := (16 + uint64(fieldsLen) + 7) &^ 7
	if headerLen+uint64(bodyLen) > maxMessage {
		return nil, fmt.Errorf("a D-Bus message of %d bytes, more than the protocol allows", headerLen+uint64(bodyLen))
	}
	data := make([]byte, headerLen+uint64(bodyLen))
	copy(data, fixed[:])
	if _, err := io.ReadFull(r, data[16:]); err != nil {
		return nil, err
	}
	d := decoder{b: data[:16+fieldsLen], at: 16, order: m.order}
	for d.at < len(d.b) && d.err == nil {
		d.align(8)
		code := d.byte()
		switch signature := d.signature(); signature {
		case "s", "o":
			value := d.string()
			if code == fieldErrorName {
				m.errorName = value
			}
		case "g":
			value := d.signature()
			if code == fieldSignature {
				m.signature = value
			}
		case "u", "h":
			value := d.uint32()
			if code == fieldReplySerial {
				m.replySerial = value
			}
		default:
			d.fail("a header field of type %q", signature)
		}
	}
	m.body = data[headerLen:]
	return m, d.err
}

// decoder reads values from a message, alignment counted from its first
// byte; the first failure sticks and every later read returns zero.
type decoder struct {
	b     []byte
	at    int
	order binary.ByteOrder
	err   error
}

var errTruncated = errors.New("a D-Bus message ends within a value")

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("unexpected D-Bus message: "+format, args...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.at {
		d.err = errTruncated
		return nil
	}
	d.at += n
	return d.b[d.at-n : d.at]
}

func (d *decoder) align(n int) {
	if pad := (n - d.at%n) % n; pad > 0 {
		d.take(pad)
	}
}

func (d *decoder) byte() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) uint32() uint32 {
	d.align(4)
	if b := d.take(4); b != nil {
		return d.order.Uint32(b)
	}
	return 0
}

// string reads a string or an object path, and its closing NUL.
func (d *decoder) string() string {
	n := d.uint32()
	if n > maxMessage {
		d.err = errTruncated
		return ""
	}
	s := d.take(int(n) + 1)
	if s == nil {
		return ""
	}
	return string(s[:n])
}

func (d *decoder) signature() string {
	n := d.byte()
	s := d.take(int(n) + 1)
	if s == nil {
		return ""
	}
	return string(s[:n])
}

// body is a decoder over the message's body, which starts aligned to 8.
func (m *message) decoder() *decoder {
	return &decoder{b: m.body, order: m.order}
}

// unitsSignature is ListUnitsByPatterns' answer: for each unit its name,
// description, load, active and sub state, followed unit, object path,
// job id, job type and job path.
const unitsSignature = "a(ssssssouso)"

// activeStates reads ListUnitsByPatterns' answer: each unit's name and
// ActiveState.
func (m *message) activeStates() (map[string]string, error) {
	if m.signature != unitsSignature {
		return nil, fmt.Errorf("unexpected answer to ListUnitsByPatterns: signature %q, not %q", m.signature, unitsSignature)
	}
	d := m.decoder()
	n := int(d.uint32())
	d.align(8)
	end := d.at + n
	states := map[string]string{}
	for d.at < end && d.err == nil {
		d.align(8)
		name := d.string()
		d.string() // description
		d.string() // load state
		active := d.string()
		d.string() // sub state
		d.string() // followed
		d.string() // object path
		d.uint32() // job id
		d.string() // job type
		d.string() // job path
		states[name] = active
	}
	if d.err != nil {
		return nil, fmt.Errorf("unexpected answer to ListUnitsByPatterns: %w", d.err)
	}
	return states, nil
}

// asError is an error reply as an error: its name, and its message when
// it has one.
func (m *message) asError() error {
	if len(m.signature) > 0 && m.signature[0] == 's' {
		if text := m.decoder().string(); text != "" {
			return errors.New(m.errorName + ": " + text)
		}
	}
	return errors.New(m.errorName)
}
