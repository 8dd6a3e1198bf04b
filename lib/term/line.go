package term

import (
	"io"
	"os"

	"golang.org/x/term"
)

// Raw puts the terminal f in raw mode, for a program that takes every
// key itself (a serial console, a line editor), and returns what puts
// the terminal back as it was.
func Raw(f *os.File) (restore func() error, err error) {
	fd := int(f.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return func() error { return term.Restore(fd, old) }, nil
}

// LineEditor reads lines typed on a terminal, with editing and a history
// (the arrows, Home, End, Ctrl-A, Ctrl-E, Ctrl-K, Ctrl-U, …). The
// terminal is in raw mode until Close.
type LineEditor struct {
	t       *term.Terminal
	restore func() error
}

// NewLineEditor reads keys from in, a terminal, and echoes them, with
// the prompt, to out.
func NewLineEditor(in *os.File, out io.Writer, prompt string) (*LineEditor, error) {
	restore, err := Raw(in)
	if err != nil {
		return nil, err
	}
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, out}, prompt)
	// A terminal that reports no size (a new pseudo-terminal, a serial
	// line) keeps the editor's 80x24: at width 0 it would break the
	// line after every character.
	if width, height, err := term.GetSize(int(in.Fd())); err == nil && width > 0 && height > 0 {
		t.SetSize(width, height)
	}
	return &LineEditor{t: t, restore: restore}, nil
}

// ReadLine returns the next line typed, without its end; io.EOF when the
// user pressed Ctrl-D on an empty line, or Ctrl-C.
func (e *LineEditor) ReadLine() (string, error) { return e.t.ReadLine() }

// Write shows text above the prompt, its line ends made "\r\n" as a
// terminal in raw mode needs them.
func (e *LineEditor) Write(p []byte) (int, error) { return e.t.Write(p) }

// Close puts the terminal back in the mode it had.
func (e *LineEditor) Close() error { return e.restore() }
