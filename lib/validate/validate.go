// Package validate checks the values users type: project names, ports and
// snapshot ids. Each failure is a cli.Error with the code shared by every
// program, so scripts can rely on it.
package validate

import (
	"regexp"
	"strconv"
	"time"

	"virtdev/lib/cli"
	"virtdev/lib/layout"
)

var projectName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,100}$`)

// ProjectName accepts the names a project directory and a systemd unit can
// both carry without escaping.
func ProjectName(name string) error {
	if !projectName.MatchString(name) {
		return cli.Errorf(cli.ExitInvalidName,
			"invalid project name %q\nA name has 1 to 100 characters from a-z A-Z 0-9 _ and -; choose one such as %q.",
			name, suggestName(name))
	}
	return nil
}

// NewProjectName is ProjectName plus the reservation of the name the
// maintenance machine uses, for programs that create or rename projects.
func NewProjectName(name string) error {
	if err := ProjectName(name); err != nil {
		return err
	}
	if name == layout.Maintenance {
		return cli.Errorf(cli.ExitInvalidName,
			"the project name %q is reserved for base maintenance (virtdev-maintain)\nChoose another name, such as %q.",
			name, name+"-project")
	}
	return nil
}

// suggestName keeps the allowed characters of a rejected name, so the error
// can offer a close, valid alternative.
func suggestName(name string) string {
	out := make([]rune, 0, len(name))
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			out = append(out, r)
		default:
			out = append(out, '-')
		}
		if len(out) == 100 {
			break
		}
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

var decimal = regexp.MustCompile(`^[0-9]{1,5}$`)

// Port parses a decimal port. Leading zeros stay decimal ("02222" is 2222),
// unlike bash arithmetic, which would read them as octal.
func Port(text string) (int, error) {
	if decimal.MatchString(text) {
		if n, err := strconv.Atoi(text); err == nil && n >= MinPort && n <= MaxPort {
			return n, nil
		}
	}
	return 0, cli.Errorf(cli.ExitUsage,
		"invalid port %q\nA port is a decimal number from %d to %d; omit it to pick the lowest free port from 2222.",
		text, MinPort, MaxPort)
}

var snapshotID = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}/[0-9]{2}-[0-9]{2}-[0-9]{2}$`)

// SnapshotLayout is the time layout of a snapshot id.
const SnapshotLayout = "2006-01-02/15-04-05"

// SnapshotID accepts YYYY-MM-DD/HH-MM-SS naming a real calendar instant, so
// that an id can never climb out of the backups directory.
func SnapshotID(id string) error {
	if snapshotID.MatchString(id) {
		if _, err := time.Parse(SnapshotLayout, id); err == nil {
			return nil
		}
	}
	return cli.Errorf(cli.ExitSnapshotID,
		"invalid snapshot id %q\nA snapshot id looks like %s (date/time); list them with: virtdev-backup --list <project>",
		id, "2026-04-25/14-30-22")
}
