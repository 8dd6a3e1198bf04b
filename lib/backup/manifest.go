// Package backup keeps the user's chosen guest paths safe on the host: the
// manifest that chooses them, the snapshots of them under
// $VIRTDEV_HOME/backups, taking one from a running machine and restoring
// one into it.
package backup

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"virtdev/lib/layout"
)

// ErrNoManifest means neither manifest location holds a file.
var ErrNoManifest = errors.New("no backup manifest")

// ManifestCandidates are the places a project's manifest may be, in order of
// precedence: the project-local one (a one-off that dies with the VM) before
// the durable one in the user's configuration.
func ManifestCandidates(l layout.Layout, project string) []string {
	return []string{l.Project(project).Manifest, l.ProjectConfig(project).Manifest}
}

// ResolveManifest returns the manifest in force for a project. Without one,
// the error (ErrNoManifest) names both places and what to write.
func ResolveManifest(l layout.Layout, project string) (string, error) {
	candidates := ManifestCandidates(l, project)
	for _, path := range candidates {
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
			return path, nil
		}
	}
	return "", fmt.Errorf("project %q: %w; looked for:\n    %s\nWrite the paths to back up, relative to %s, one per line, into %s",
		project, ErrNoManifest, strings.Join(candidates, "\n    "), GuestHome, candidates[len(candidates)-1])
}

// GuestHome is the directory every manifest entry is relative to, and the
// only one a backup reads from or a restore writes into.
const GuestHome = "/home/dev/"

// Manifest is a parsed backup manifest.
type Manifest struct {
	Path    string
	Text    []byte   // the file as read, kept in every snapshot
	Entries []string // the paths, relative to GuestHome
}

// Problem kinds, in the order a ManifestError reports them.
const (
	ProblemAbsolute  = "absolute path"
	ProblemEscapes   = "'..' component (it would leave " + GuestHome + ")"
	ProblemMalformed = "malformed"
)

// Problem is one line of a manifest that cannot be used.
type Problem struct {
	Line int    // 1-based
	Kind string // one of the Problem kinds
	What string // for malformed lines: leading whitespace, ...
	Text string // the line, quoted
}

// ManifestError is a manifest that cannot be used as it is: it lists no
// path (Problems empty), or some of its lines are wrong.
type ManifestError struct {
	Path     string
	Problems []Problem
}

// Empty says the manifest lists no path at all.
func (e *ManifestError) Empty() bool { return len(e.Problems) == 0 }

// Kind is the kind of problem reported first: the one that decides how a
// program reports the whole manifest.
func (e *ManifestError) Kind() string {
	if e.Empty() {
		return ""
	}
	return e.Problems[0].Kind
}

func (e *ManifestError) Error() string {
	if e.Empty() {
		return fmt.Sprintf("the backup manifest %s lists no path (every line is blank or a # comment)\n"+
			"Add the paths to keep, one per line, relative to %s, such as .bashrc or src/", e.Path, GuestHome)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the backup manifest %s has lines that cannot be used:", e.Path)
	for _, p := range e.Problems {
		what := p.Kind
		if p.What != "" {
			what += ", " + p.What
		}
		fmt.Fprintf(&b, "\n    line %d: %s: %s", p.Line, what, p.Text)
	}
	fmt.Fprintf(&b, "\nEach line is one path relative to %s (no leading /, no '..'), from its first\n"+
		"column to its last character, without tabs or other control characters.", GuestHome)
	return b.String()
}

// ReadManifest reads and checks a manifest. One path per line; blank lines
// and lines starting with # (after blanks) are ignored. A trailing slash
// means what it means to rsync: the directory and what is in it.
//
// Lines that rsync would read differently from what they say are refused,
// with their numbers, rather than leave a backup silently incomplete: an
// absolute path (rsync would look for it under GuestHome), a '..'
// component (it would reach outside GuestHome), whitespace at either end (a
// path with trailing blanks exists nowhere), control characters (a CR from
// a Windows editor, a tab) and bytes that are not UTF-8.
func ReadManifest(path string) (Manifest, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return Manifest{}, err
	}
	return ParseManifest(path, text)
}

// ParseManifest is ReadManifest for text already read from path.
func ParseManifest(path string, text []byte) (Manifest, error) {
	m := Manifest{Path: path, Text: text}
	var problems []Problem
	for i, line := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if kind, what := check(line); kind != "" {
			problems = append(problems, Problem{Line: i + 1, Kind: kind, What: what, Text: fmt.Sprintf("%q", line)})
			continue
		}
		m.Entries = append(m.Entries, line)
	}
	if len(problems) > 0 {
		order := []string{ProblemAbsolute, ProblemEscapes, ProblemMalformed}
		slices.SortStableFunc(problems, func(a, b Problem) int {
			return slices.Index(order, a.Kind) - slices.Index(order, b.Kind)
		})
		return m, &ManifestError{Path: path, Problems: problems}
	}
	if len(m.Entries) == 0 {
		return m, &ManifestError{Path: path}
	}
	return m, nil
}

// check returns what is wrong with one line of a manifest, if anything.
func check(line string) (kind, what string) {
	switch {
	case strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "/"):
		return ProblemAbsolute, ""
	case !utf8.ValidString(line):
		return ProblemMalformed, "not UTF-8"
	case strings.TrimLeftFunc(line, unicode.IsSpace) != line:
		return ProblemMalformed, "leading whitespace"
	case strings.TrimRightFunc(line, unicode.IsSpace) != line:
		return ProblemMalformed, "trailing whitespace"
	case strings.ContainsFunc(line, unicode.IsControl):
		return ProblemMalformed, "control character"
	}
	for _, part := range strings.Split(line, "/") {
		if part == ".." {
			return ProblemEscapes, ""
		}
	}
	return "", ""
}
