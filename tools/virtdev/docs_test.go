package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"virtdev/lib/exitcode"
	"virtdev/tools/internal/docs"
)

// programs lists the programs of the tree: every tools/virtdev* directory.
func programs(t *testing.T, root string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "tools", "virtdev*"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(d))
	}
	return names
}

// Every program has a man page and a block in every completion script, and
// no script completes a program that is gone. (Each program's own test
// checks that its page and blocks match its declaration.)
func TestEveryProgramDocumented(t *testing.T) {
	root, err := docs.Root()
	if err != nil {
		t.Fatal(err)
	}
	names := programs(t, root)
	for _, name := range names {
		if _, err := os.Stat(docs.Page(root, name)); err != nil {
			t.Errorf("%s has no man page: %v", name, err)
		}
	}
	for shell, path := range docs.Completions(root) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blocks := docs.Blocks(string(data))
		for _, name := range names {
			if name != "virtdev" && !slices.Contains(blocks, name) {
				t.Errorf("%s completion has no block for %s: run make docs", shell, name)
			}
		}
		for _, b := range blocks {
			if !slices.Contains(names, b) {
				t.Errorf("%s completion completes %s, which is no program of this tree", shell, b)
			}
		}
		if shell == "zsh" && docs.Compdef(string(data)) != string(data) {
			t.Errorf("the #compdef line of %s does not name every program: run make docs", path)
		}
	}
}

// virtdev(7) lists the codes every program means the same way.
func TestSharedCodesDocumented(t *testing.T) {
	root, err := docs.Root()
	if err != nil {
		t.Fatal(err)
	}
	docs.CheckSection(t, filepath.Join(root, "man", "virtdev.7.scd"), "EXIT STATUS", docs.SharedCodes(exitcode.Shared))
}

// virtdev(1) and the README list every verb.
func TestEveryVerbListed(t *testing.T) {
	root, err := docs.Root()
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(docs.Page(root, "virtdev"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range programs(t, root) {
		verb, ok := strings.CutPrefix(name, "virtdev-")
		if !ok || verb == "supervise" {
			continue
		}
		if !strings.Contains(string(page), "\n*"+verb+"*\n") {
			t.Errorf("virtdev(1) does not list the verb %s (a line *%s* in its list of verbs)", verb, verb)
		}
		if !strings.Contains(string(readme), "`"+name) {
			t.Errorf("README.md does not list %s in its commands", name)
		}
	}
}

// hint finds program names in messages: virtdev- and a word.
var hint = regexp.MustCompile(`virtdev-([a-z][a-z0-9-]*[a-z0-9])`)

// notPrograms are virtdev-<word> names that stand for something else: the
// maintenance and installer machines' unit and host names, scratch names,
// and files in the guest.
var notPrograms = []string{"maintenance", "installer", "deltas", "bootstrap-", "e2e", "script", "loader-entry"}

// Every program a string in lib/ or tools/ names exists: a hint that names
// a program yet to be written sends the user to "command not found".
func TestHintsNamePrograms(t *testing.T) {
	root, err := docs.Root()
	if err != nil {
		t.Fatal(err)
	}
	names := programs(t, root)
	fset := token.NewFileSet()
	for _, dir := range []string{"lib", "tools"} {
		filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			file, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				text, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				for _, m := range hint.FindAllStringSubmatchIndex(text, -1) {
					word := text[m[2]:m[3]]
					next := text[m[1]:]
					if slices.Contains(names, "virtdev-"+word) || slices.Contains(notPrograms, word) ||
						strings.HasPrefix(next, ".service") || strings.HasPrefix(next, "-") {
						continue
					}
					t.Errorf("%s: %q names virtdev-%s, which is no program of this tree", fset.Position(lit.Pos()), text, word)
				}
				return true
			})
			return nil
		})
	}
}

// The README's Requirements name exactly the host packages CI installs, and
// the Go release go.mod asks for.
func TestReadmeRequirements(t *testing.T) {
	root, err := docs.Root()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(readme), "\\\n", " ")
	var named []string
	for _, line := range strings.Split(text, "\n") {
		if _, list, ok := strings.Cut(line, "sudo apt-get install "); ok {
			named = append(named, strings.Fields(list)...)
		}
	}
	packages, err := os.ReadFile(filepath.Join(root, ".ci", "packages"))
	if err != nil {
		t.Fatal(err)
	}
	var installed []string
	for _, line := range strings.Split(string(packages), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			installed = append(installed, line)
		}
	}
	if !slices.Equal(named, installed) {
		t.Errorf("the README's apt-get lines name\n  %v\nbut .ci/packages lists, in this order,\n  %v", named, installed)
	}

	mod, err := os.ReadFile(filepath.Join(root, "lib", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	version := regexp.MustCompile(`(?m)^go (1\.\d+)`).FindSubmatch(mod)
	if version == nil {
		t.Fatal("lib/go.mod has no go directive")
	}
	if want := "Go " + string(version[1]) + " or newer"; !strings.Contains(string(readme), want) {
		t.Errorf("the README does not say %q, which go.mod's go directive asks for", want)
	}
}
