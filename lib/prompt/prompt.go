// Package prompt asks people to confirm destructive steps.
//
// A prompt never reads from a pipe: a script that forgot --yes must fail
// loudly rather than consume its own input as an answer.
package prompt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotInteractive means confirmation was needed but stdin is no terminal.
var ErrNotInteractive = errors.New("confirmation needed but standard input is not a terminal")

// Prompter reads answers from In and writes questions to Out (stderr).
type Prompter struct {
	In          io.Reader
	Out         io.Writer
	Interactive bool // In is a terminal
	reader      *bufio.Reader
}

func (p *Prompter) line() (string, error) {
	if !p.Interactive {
		return "", ErrNotInteractive
	}
	if p.reader == nil {
		p.reader = bufio.NewReader(p.In)
	}
	text, err := p.reader.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && text != "") {
		return "", err
	}
	return strings.TrimRight(text, "\r\n"), nil
}

// Word asks the user to type word exactly; anything else declines.
func (p *Prompter) Word(question, word string) (bool, error) {
	if !p.Interactive {
		return false, ErrNotInteractive
	}
	fmt.Fprintf(p.Out, "%s\nType '%s' to confirm: ", question, word)
	answer, err := p.line()
	if err != nil {
		return false, err
	}
	return answer == word, nil
}

// YesNo asks a y/N question; only y or Y accepts.
func (p *Prompter) YesNo(question string) (bool, error) {
	if !p.Interactive {
		return false, ErrNotInteractive
	}
	fmt.Fprintf(p.Out, "%s [y/N] ", question)
	answer, err := p.line()
	if err != nil {
		return false, err
	}
	return answer == "y" || answer == "Y", nil
}
