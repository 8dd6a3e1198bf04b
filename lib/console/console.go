// Package console relays a terminal to a machine's serial console.
//
// QEMU serves the console on the machine's console.sock to one client at a
// time; whoever is attached sees what the guest writes on its serial port
// (the boot, the kernel's messages, a login prompt) and types into it.
package console

import (
	"bytes"
	"io"
)

// Escape is the key that detaches from the console, Ctrl-], as telnet and
// virtdev's original taught people; the guest never sees it.
const (
	Escape     = 0x1d
	EscapeName = "Ctrl-]"
)

// Ending is how an attachment ended.
type Ending int

const (
	// Detached: the user typed Escape.
	Detached Ending = iota
	// InputEnded: standard input ended.
	InputEnded
	// Closed: the console closed, as it does when QEMU exits.
	Closed
)

// Relay copies what is typed on in to the console, and what the console
// says to out, until one of the endings, and returns it with the error
// that ended the relay, if any. in is read in a goroutine of its own,
// left blocked in its read when the console closes first: the caller
// ends soon after.
func Relay(console io.ReadWriter, in io.Reader, out io.Writer) (Ending, error) {
	type end struct {
		how Ending
		err error
	}
	ended := make(chan end, 2)
	go func() {
		_, err := io.Copy(out, console)
		ended <- end{Closed, err}
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			chunk := buf[:n]
			escaped := false
			if i := bytes.IndexByte(chunk, Escape); i >= 0 {
				chunk, escaped = chunk[:i], true
			}
			if len(chunk) > 0 {
				if _, werr := console.Write(chunk); werr != nil {
					ended <- end{Closed, werr}
					return
				}
			}
			switch {
			case escaped:
				ended <- end{Detached, nil}
				return
			case err == io.EOF:
				ended <- end{InputEnded, nil}
				return
			case err != nil:
				ended <- end{InputEnded, err}
				return
			}
		}
	}()
	e := <-ended
	return e.how, e.err
}
