// Package validate checks the values users type: project names, ports and
// snapshot ids. Each failure carries the exit code shared by every program
// (lib/exitcode), so scripts can rely on it.
package validate

import (
	"fmt"
	"strconv"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
)

// IsProjectName reports whether name matches ^[a-zA-Z0-9_-]{1,100}$ and does
// not start with "-": the names a project directory and a systemd unit can
// both carry without escaping, and that no program can mistake for an
// option. Checked by hand: compiling the bounded repetition as a regular
// expression costs milliseconds at every program start.
func IsProjectName(name string) bool {
	if len(name) == 0 || len(name) > 100 || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func invalidName(message string, args ...any) error {
	return &exitcode.Error{Code: exitcode.InvalidName, Message: fmt.Sprintf(message, args...)}
}

// ProjectName is IsProjectName as an error for people, exit 2.
func ProjectName(name string) error {
	if !IsProjectName(name) {
		return invalidName("invalid project name %q\nA name has 1 to 100 characters from a-z A-Z 0-9 _ and -, and does not start with -; choose one such as %q.",
			name, suggestName(name))
	}
	return nil
}

// Reserved are the names that address something other than a project:
// virtdev-path base is the sealed base, maintenance is the machine
// virtdev-maintain boots.
var Reserved = []string{"base", layout.Maintenance}

// NewProjectName is ProjectName plus the reserved names, for programs that
// create or rename projects.
func NewProjectName(name string) error {
	if err := ProjectName(name); err != nil {
		return err
	}
	for _, r := range Reserved {
		if name == r {
			return invalidName("the project name %q is reserved (virtdev-path %s and the virtdev programs mean something else by it)\nChoose another name, such as %q.",
				name, name, name+"-project")
		}
	}
	return nil
}

// suggestName keeps the allowed characters of a rejected name, so the error
// can offer a close, valid alternative.
func suggestName(name string) string {
	out := make([]rune, 0, len(name))
	for _, r := range name {
		switch {
		case r < 0x80 && nameByte(byte(r)):
			out = append(out, r)
		case len(out) > 0:
			out = append(out, '-')
		}
		if len(out) == 100 {
			break
		}
	}
	for len(out) > 0 && out[0] == '-' {
		out = out[1:]
	}
	if len(out) == 0 {
		return "myproject"
	}
	return string(out)
}

// Port bounds for SSH forwards: unprivileged, and a real TCP port.
const (
	MinPort = 1024
	MaxPort = 65535
)

// Port parses a decimal port. Leading zeros stay decimal ("02222" is 2222),
// unlike bash arithmetic, which would read them as octal.
func Port(text string) (int, error) {
	if len(text) >= 1 && len(text) <= 5 && allDigits(text) {
		if n, err := strconv.Atoi(text); err == nil && n >= MinPort && n <= MaxPort {
			return n, nil
		}
	}
	return 0, &exitcode.Error{Code: exitcode.Usage, Message: fmt.Sprintf(
		"invalid port %q\nA port is a decimal number from %d to %d; omit it to pick the lowest free port from 2222.",
		text, MinPort, MaxPort)}
}

// SnapshotLayout is the time layout of a snapshot id.
const SnapshotLayout = "2006-01-02/15-04-05"

// SnapshotID accepts YYYY-MM-DD/HH-MM-SS naming a real calendar instant, so
// that an id can never climb out of the backups directory.
func SnapshotID(id string) error {
	// time.Parse alone would accept a one-digit hour; the digit check pins
	// the exact shape, the parse a real calendar instant.
	if len(id) == len(SnapshotLayout) && sameShape(id, SnapshotLayout) {
		if _, err := time.Parse(SnapshotLayout, id); err == nil {
			return nil
		}
	}
	return &exitcode.Error{Code: exitcode.SnapshotID, Message: fmt.Sprintf(
		"invalid snapshot id %q\nA snapshot id looks like %s (date/time); list them with: virtdev-backup --list <project>",
		id, "2026-04-25/14-30-22")}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sameShape reports whether s has digits where layout has digits and the
// same separators elsewhere.
func sameShape(s, layout string) bool {
	for i := 0; i < len(layout); i++ {
		isDigit := layout[i] >= '0' && layout[i] <= '9'
		if isDigit != (s[i] >= '0' && s[i] <= '9') || !isDigit && s[i] != layout[i] {
			return false
		}
	}
	return true
}
