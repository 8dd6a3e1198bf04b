// Package term decides whether people get colour on stderr and supplies the
// escape sequences from the terminal's terminfo entry, never hard-coded.
package term

import (
	"os"

	"github.com/xo/terminfo"
	"golang.org/x/term"
)

// Colour modes accepted by every program's --color flag.
const (
	ModeAuto = "auto"
	ModeYes  = "yes"
	ModeNo   = "no"
)

// Colour is an ANSI colour number as terminfo's setaf takes it.
type Colour int

// The colours virtdev uses.
const (
	Red    Colour = 1
	Green  Colour = 2
	Yellow Colour = 3
	Blue   Colour = 4
	Cyan   Colour = 6
)

// Palette paints text for stderr; a disabled palette returns text unchanged,
// so callers never branch on whether colour is on.
type Palette struct {
	info *terminfo.Terminfo
}

// Enabled reports whether the palette emits escape sequences.
func (p *Palette) Enabled() bool { return p != nil && p.info != nil }

// Paint wraps text in the colour (bold when asked) and a reset.
func (p *Palette) Paint(text string, c Colour, bold bool) string {
	if !p.Enabled() || text == "" {
		return text
	}
	prefix := p.info.Printf(terminfo.SetAForeground, int(c))
	if bold {
		prefix = p.info.Printf(terminfo.EnterBoldMode) + prefix
	}
	return prefix + text + p.info.Printf(terminfo.ExitAttributeMode)
}

// Bold emphasises text without changing its colour.
func (p *Palette) Bold(text string) string {
	if !p.Enabled() || text == "" {
		return text
	}
	return p.info.Printf(terminfo.EnterBoldMode) + text + p.info.Printf(terminfo.ExitAttributeMode)
}

// NewPalette resolves a --color mode. auto means: stderr is a terminal,
// NO_COLOR is unset and TERM names a real terminal. yes overrides NO_COLOR
// but still needs a terminfo entry; without one there is nothing to emit.
func NewPalette(mode string, stderr *os.File, getenv func(string) string) *Palette {
	switch mode {
	case ModeNo:
		return &Palette{}
	case ModeAuto:
		if getenv("NO_COLOR") != "" || stderr == nil || !term.IsTerminal(int(stderr.Fd())) {
			return &Palette{}
		}
	}
	name := getenv("TERM")
	if name == "" || name == "dumb" {
		if mode != ModeYes {
			return &Palette{}
		}
		name = "xterm-256color"
	}
	info, err := terminfo.Load(name)
	// Has reads boolean capabilities only; setaf is a string one.
	if err != nil || len(info.Strings[terminfo.SetAForeground]) == 0 {
		return &Palette{}
	}
	return &Palette{info: info}
}

// IsTerminal reports whether f is a terminal, for prompts and progress.
func IsTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}
