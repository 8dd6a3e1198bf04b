package docs

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"virtdev/lib/cli"
)

// Check holds a program's man page and completion blocks to its
// declaration, or rewrites them when VIRTDEV_UPDATE_DOCS=1.
func Check(t *testing.T, c cli.Command) {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	k := c.Contract()
	update := os.Getenv(UpdateVariable) == "1"
	page := Page(root, c.Name)
	checkFile(t, page, update, func(text string) (string, error) {
		for _, heading := range []string{"SYNOPSIS", "OPTIONS", "EXIT STATUS"} {
			var ok bool
			if text, ok = ReplaceSection(text, heading, Sections(k)[heading]); !ok {
				return "", fmt.Errorf("%s has no # %s section for the generated text", page, heading)
			}
		}
		return text, nil
	})
	if c.Name == "virtdev" {
		return // the dispatcher's completion is the hand-written frame itself
	}
	defer func() {
		if !t.Failed() && !update {
			t.Run("bash+fish", func(t *testing.T) { checkCompletion(t, root, k) })
			t.Run("zsh", func(t *testing.T) { checkZsh(t, root, k) })
		}
	}()
	for shell, path := range Completions(root) {
		checkFile(t, path, update, func(text string) (string, error) {
			text, err := ReplaceBlock(text, c.Name, Block(shell, k))
			if err != nil {
				return "", fmt.Errorf("%s: %v", path, err)
			}
			if shell == "zsh" {
				text = Compdef(text)
			}
			return text, nil
		})
	}
}

func checkFile(t *testing.T, path string, update bool, render func(string) (string, error)) {
	t.Helper()
	apply := func() error {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		want, err := render(string(data))
		if err != nil {
			return err
		}
		if want == string(data) {
			return nil
		}
		if update {
			return os.WriteFile(path, []byte(want), 0o644)
		}
		return fmt.Errorf("%s does not match the program's declaration (first difference: %s)\nRegenerate it with: make docs", path, firstDifference(string(data), want))
	}
	var err error
	if update {
		err = withLock(path, apply)
	} else {
		err = apply()
	}
	if err != nil {
		t.Error(err)
	}
}

// firstDifference shows the first line where two texts part.
func firstDifference(have, want string) string {
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(h) && i < len(w); i++ {
		if h[i] != w[i] {
			return fmt.Sprintf("line %d is %q, should be %q", i+1, h[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, should be %d", len(h), len(w))
}

var compdefLine = regexp.MustCompile(`(?m)^#compdef .*$`)

// Compdef rewrites zsh's #compdef line, which names every program the file
// completes, from the blocks in it.
func Compdef(script string) string {
	return compdefLine.ReplaceAllLiteralString(script, "#compdef "+strings.Join(append([]string{"virtdev"}, Blocks(script)...), " "))
}

// CheckSection holds one section of a page to body, or rewrites it when
// VIRTDEV_UPDATE_DOCS=1.
func CheckSection(t *testing.T, page, heading, body string) {
	t.Helper()
	checkFile(t, page, os.Getenv(UpdateVariable) == "1", func(text string) (string, error) {
		text, ok := ReplaceSection(text, heading, body)
		if !ok {
			return "", fmt.Errorf("%s has no # %s section", page, heading)
		}
		return text, nil
	})
}
