package docs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/cli"
)

// Completing asks a real shell, with the completion script loaded, what it
// offers for a command line: the test that the hand-written part of a
// script and a program's block work together. Shells other than bash may
// be missing on a developer's machine (the test is skipped there), never in
// CI, where their absence fails it.
func completing(t *testing.T, root, shell, home, line string) []string {
	t.Helper()
	if _, err := exec.LookPath(shell); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; CI installs it (.ci/packages)", shell)
		}
		t.Skipf("%s is not installed", shell)
	}
	script := Completions(root)[shell]
	var cmd *exec.Cmd
	switch shell {
	case "bash":
		// COMP_LINE up to the cursor, split into words as readline would
		// (no quoting in these lines).
		cmd = exec.Command("bash", "--norc", "--noprofile", "-c", `
			source "$1"
			COMP_LINE=$2; COMP_POINT=${#COMP_LINE}
			read -ra COMP_WORDS <<<"$COMP_LINE"
			[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
			COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
			_virtdev
			printf '%s\n' "${COMPREPLY[@]}"`, "bash", script, line)
	case "fish":
		cmd = exec.Command("fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, line)
	default:
		t.Fatalf("no completion driver for %s", shell)
	}
	cmd.Env = append(os.Environ(), "VIRTDEV_HOME="+home, "PATH="+filepath.Join(root, "bin")+":/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s completing %q: %v\n%s", shell, line, err, out)
	}
	var words []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		word, _, _ := strings.Cut(l, "\t") // fish adds descriptions
		if word != "" {
			words = append(words, word)
		}
	}
	return words
}

// checkCompletion completes a program's options and enumerated arguments in
// bash and fish, as both the program and the dispatcher's verb.
func checkCompletion(t *testing.T, root string, k cli.Contract) {
	home := t.TempDir()
	for _, p := range []string{"alpha", "beta"} {
		if err := os.MkdirAll(filepath.Join(home, "projects", p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	verb := strings.TrimPrefix(k.Name, "virtdev-")
	for _, shell := range []string{"bash", "fish"} {
		for _, prefix := range []string{k.Name, "virtdev " + verb} {
			got := completing(t, root, shell, home, prefix+" --")
			for _, o := range k.Options {
				if o.Long == "" {
					continue
				}
				want := "--" + o.Long
				if !slices.ContainsFunc(got, func(w string) bool { return strings.TrimSuffix(w, "=") == want }) {
					t.Errorf("%s offers %q for %q: %s is missing", shell, got, prefix+" --", want)
				}
			}
			fixed, _ := positionals(k)
			var typed []string
			for _, a := range fixed {
				line := strings.Join(append([]string{prefix}, typed...), " ") + " "
				got := completing(t, root, shell, home, line)
				for _, want := range expected(a, typed) {
					if !slices.Contains(got, want) {
						t.Errorf("%s offers %q for %q: %s is missing", shell, got, line, want)
					}
				}
				typed = append(typed, sample(a))
			}
		}
	}
}

// expected is what completing an argument must offer, given those before.
func expected(a cli.Arg, typed []string) []string {
	switch a.Kind {
	case cli.ArgProject:
		return []string{"alpha", "beta"}
	case cli.ArgMachine:
		return []string{"alpha", "beta", "maintenance"}
	case cli.ArgPathTarget:
		return []string{"alpha", "beta", "base", "maintenance"}
	case cli.ArgResource:
		if len(typed) > 0 {
			if values, ok := a.ValuesFor[typed[len(typed)-1]]; ok {
				return values
			}
		}
		return a.Values
	}
	return nil
}

// sample is a value typed for an argument to reach the next one.
func sample(a cli.Arg) string {
	switch a.Kind {
	case cli.ArgProject, cli.ArgMachine, cli.ArgPathTarget:
		return "alpha"
	case cli.ArgResource:
		if len(a.Values) > 0 {
			return a.Values[0]
		}
	}
	return "x"
}

// CheckZsh loads the zsh script the way compinit does not need to and
// checks that it defines the program's function; zsh's completion system
// needs a terminal to run for real.
func checkZsh(t *testing.T, root string, k cli.Contract) {
	if _, err := exec.LookPath("zsh"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zsh is not installed; CI installs it (.ci/packages)")
		}
		t.Skip("zsh is not installed")
	}
	fn := "_virtdev_spec_" + verb(k)
	out, err := exec.Command("zsh", "-f", "-c", fmt.Sprintf(`compdef() { :; }; source %q; (( $+functions[%s] )) && print ok`, Completions(root)["zsh"], fn)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("zsh: sourcing the script does not define %s: %v\n%s", fn, err, out)
	}
}
