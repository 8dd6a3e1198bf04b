// Package docs renders what a program declares (lib/cli's Contract) into
// the parts of its documentation that must never drift from the code: the
// SYNOPSIS, OPTIONS and EXIT STATUS sections of its man page, and its block
// in each shell's completion script. The rest of a man page (what the
// program does, its files, examples) is prose written by hand.
//
// Check compares the files with the rendering; with VIRTDEV_UPDATE_DOCS=1
// in the environment it rewrites them instead (make docs).
package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"virtdev/lib/cli"
	"virtdev/lib/exitcode"
)

// UpdateVariable asks Check to rewrite the files rather than compare.
const UpdateVariable = "VIRTDEV_UPDATE_DOCS"

// Root finds the repository from a test's working directory (a program's
// directory under tools/).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.work above the working directory")
		}
		dir = parent
	}
}

// Page is the man page of a program.
func Page(root, name string) string { return filepath.Join(root, "man", name+".1.scd") }

// Completions are the completion scripts, by shell.
func Completions(root string) map[string]string {
	return map[string]string{
		"bash": filepath.Join(root, "completions", "virtdev.bash"),
		"zsh":  filepath.Join(root, "completions", "virtdev.zsh"),
		"fish": filepath.Join(root, "completions", "virtdev.fish"),
	}
}

// Sections renders the generated sections of a man page, by heading.
func Sections(k cli.Contract) map[string]string {
	return map[string]string{
		"SYNOPSIS":    synopsis(k),
		"OPTIONS":     options(k),
		"EXIT STATUS": exitStatus(k),
	}
}

func synopsis(k cli.Contract) string {
	var args []string
	for _, a := range k.Args {
		name := "_" + a.Name + "_"
		if a.Repeat {
			name += "..."
		}
		if a.Optional {
			name = "[" + name + "]"
		}
		args = append(args, name)
	}
	line := func(cmd string) string {
		return strings.TrimSpace(fmt.Sprintf("*%s* [_OPTIONS_] %s", cmd, strings.Join(args, " ")))
	}
	if verb, ok := strings.CutPrefix(k.Name, "virtdev-"); ok {
		return line(k.Name) + "\n\n" + line("virtdev "+verb) + "\n"
	}
	return line(k.Name) + "\n"
}

func options(k cli.Contract) string {
	var b strings.Builder
	for i, o := range k.Options {
		if i > 0 {
			b.WriteString("\n")
		}
		var names []string
		if o.Short != "" {
			names = append(names, "*-"+o.Short+"*")
		}
		if o.Long != "" {
			long := "*--" + o.Long + "*"
			switch {
			case o.Value != "" && o.Optional:
				long += "[=_" + o.Value + "_]"
			case o.Value != "":
				long += "=_" + o.Value + "_"
			}
			names = append(names, long)
		}
		fmt.Fprintf(&b, "%s\n%s", strings.Join(names, ", "), indented(sentence(optionText(o))))
	}
	return b.String()
}

func optionText(o cli.Option) string {
	text := o.Description
	if len(o.Choices) > 0 && !strings.Contains(text, o.Choices[0]) {
		text += "; one of " + strings.Join(o.Choices, ", ")
	}
	if o.Default != "" {
		text += "; default " + o.Default
	}
	return text
}

func exitStatus(k cli.Contract) string { return codeList(k.Codes) }

// SharedCodes is virtdev(7)'s EXIT STATUS: the codes every program means
// the same way.
func SharedCodes(codes []exitcode.Code) string {
	return "Each program lists the exit codes it can return in its *--help* and\n" +
		"manual page; 0 is success. These mean the same in every program that\n" +
		"lists them:\n\n" + codeList(codes) + "\n" +
		"A program's own codes are numbered from 10.\n"
}

func codeList(codes []exitcode.Code) string {
	var b strings.Builder
	for i, c := range codes {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "*%d*\n%s", c.N, indented(sentence(c.Meaning)))
	}
	return b.String()
}

// sentence capitalises a table entry and ends it with a full stop, escaping
// what scdoc would read as markup.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[size:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return scdocEscape(s)
}

// indented wraps text into tab-indented lines of at most 72 columns, as the
// hand-written parts of the pages are.
func indented(text string) string {
	var b, line strings.Builder
	for _, word := range strings.Fields(text) {
		if line.Len() > 0 && line.Len()+1+len(word) > 64 {
			fmt.Fprintf(&b, "\t%s\n", line.String())
			line.Reset()
		}
		if line.Len() > 0 {
			line.WriteByte(' ')
		} else if strings.HasPrefix(word, "-") || strings.HasPrefix(word, ".") {
			// scdoc would read a list item.
			line.WriteByte('\\')
		}
		line.WriteString(word)
	}
	fmt.Fprintf(&b, "\t%s\n", line.String())
	return b.String()
}

func scdocEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`).Replace(s)
}

// ReplaceSection puts body under "# HEADING" in an scdoc page, up to the
// next heading. ok is false when the page has no such heading.
func ReplaceSection(page, heading, body string) (string, bool) {
	marker := "\n# " + heading + "\n"
	start := strings.Index(page, marker)
	if start < 0 {
		return page, false
	}
	from := start + len(marker)
	end := len(page)
	if next := strings.Index(page[from:], "\n# "); next >= 0 {
		end = from + next + 1
	}
	tail := page[end:]
	sep := "\n"
	if tail == "" {
		sep = ""
	}
	return page[:from] + "\n" + body + sep + tail, true
}

// Block markers delimit one program's generated part of a completion
// script; blocks stand in name order between the region markers.
const (
	regionStart = "# >>> generated by make docs: one block per program"
	regionEnd   = "# <<< generated"
)

func blockStart(name string) string { return "# >>> " + name }
func blockEnd(name string) string   { return "# <<< " + name }

// Blocks returns the program names that have a block in a script.
func Blocks(script string) []string {
	var names []string
	for _, line := range strings.Split(script, "\n") {
		if name, ok := strings.CutPrefix(line, "# >>> "); ok && strings.HasPrefix(name, "virtdev") {
			names = append(names, name)
		}
	}
	return names
}

// ReplaceBlock puts a program's block into a script, in name order, or
// replaces the one there.
func ReplaceBlock(script, name, block string) (string, error) {
	rs, re := strings.Index(script, regionStart+"\n"), strings.Index(script, regionEnd+"\n")
	if rs < 0 || re < rs {
		return "", fmt.Errorf("no generated region (%q … %q)", regionStart, regionEnd)
	}
	region := script[rs+len(regionStart)+1 : re]
	blocks := map[string]string{}
	for _, n := range Blocks(region) {
		s := strings.Index(region, blockStart(n)+"\n")
		e := strings.Index(region, blockEnd(n)+"\n")
		if s < 0 || e < s {
			return "", fmt.Errorf("the block of %s is not closed", n)
		}
		blocks[n] = region[s : e+len(blockEnd(n))+1]
	}
	blocks[name] = blockStart(name) + "\n" + block + blockEnd(name) + "\n"
	names := make([]string, 0, len(blocks))
	for n := range blocks {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(blocks[n])
	}
	return script[:rs+len(regionStart)+1] + b.String() + script[re:], nil
}

// Block is a program's generated block in one shell's script.
func Block(shell string, k cli.Contract) string {
	switch shell {
	case "bash":
		return bashBlock(k)
	case "zsh":
		return zshBlock(k)
	case "fish":
		return fishBlock(k)
	}
	panic("unknown shell " + shell)
}

// verb is the name a program's completion functions carry.
func verb(k cli.Contract) string {
	if v, ok := strings.CutPrefix(k.Name, "virtdev-"); ok {
		return strings.ReplaceAll(v, "-", "_")
	}
	return "_dispatcher"
}

// withLock runs update with an exclusive lock on path: every program's test
// rewrites its own block of the same scripts, and go test runs them at once.
func withLock(path string, update func() error) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	return update()
}
