package prompt_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"virtdev/lib/prompt"
)

func TestNotInteractive(t *testing.T) {
	var out strings.Builder
	p := &prompt.Prompter{In: strings.NewReader("destroy\ny\n"), Out: &out}
	if ok, err := p.Word("Destroy p?", "destroy"); ok || !errors.Is(err, prompt.ErrNotInteractive) {
		t.Errorf("Word = %v, %v, want false, ErrNotInteractive", ok, err)
	}
	if ok, err := p.YesNo("Proceed?"); ok || !errors.Is(err, prompt.ErrNotInteractive) {
		t.Errorf("YesNo = %v, %v, want false, ErrNotInteractive", ok, err)
	}
	// Nothing is asked, and nothing is consumed from a pipe.
	if out.Len() != 0 {
		t.Errorf("a question was written: %q", out.String())
	}
}

func TestWord(t *testing.T) {
	for _, tc := range []struct {
		input string
		want  bool
	}{
		{"destroy\n", true},
		{"destroy\r\n", true},
		{"destroy", true}, // the last line of input needs no newline
		{"Destroy\n", false},
		{"destroy \n", false},
		{"y\n", false},
		{"\n", false},
	} {
		var out strings.Builder
		p := &prompt.Prompter{In: strings.NewReader(tc.input), Out: &out, Interactive: true}
		ok, err := p.Word("This deletes p.", "destroy")
		if err != nil || ok != tc.want {
			t.Errorf("Word with %q = %v, %v, want %v", tc.input, ok, err, tc.want)
		}
		if want := "This deletes p.\nType 'destroy' to confirm: "; out.String() != want {
			t.Errorf("question = %q, want %q", out.String(), want)
		}
	}
}

func TestYesNo(t *testing.T) {
	for _, tc := range []struct {
		input string
		want  bool
	}{
		{"y\n", true},
		{"Y\n", true},
		{"y", true},
		{"yes\n", false},
		{"n\n", false},
		{"\n", false},
		{" y\n", false},
	} {
		var out strings.Builder
		p := &prompt.Prompter{In: strings.NewReader(tc.input), Out: &out, Interactive: true}
		ok, err := p.YesNo("Proceed?")
		if err != nil || ok != tc.want {
			t.Errorf("YesNo with %q = %v, %v, want %v", tc.input, ok, err, tc.want)
		}
		if out.String() != "Proceed? [y/N] " {
			t.Errorf("question = %q", out.String())
		}
	}
}

// Consecutive questions read consecutive lines, even though the reader is
// buffered.
func TestSuccessiveQuestions(t *testing.T) {
	p := &prompt.Prompter{In: strings.NewReader("n\ny\nproject\n"), Out: io.Discard, Interactive: true}
	for i, want := range []bool{false, true} {
		if ok, err := p.YesNo("Proceed?"); err != nil || ok != want {
			t.Errorf("question %d = %v, %v, want %v", i, ok, err, want)
		}
	}
	if ok, err := p.Word("Name it again.", "project"); err != nil || !ok {
		t.Errorf("Word = %v, %v, want true", ok, err)
	}
}

// End of input without an answer is an error, not a silent "no".
func TestEOF(t *testing.T) {
	p := &prompt.Prompter{In: strings.NewReader(""), Out: io.Discard, Interactive: true}
	if ok, err := p.YesNo("Proceed?"); ok || !errors.Is(err, io.EOF) {
		t.Errorf("YesNo at end of input = %v, %v, want false, EOF", ok, err)
	}
}
