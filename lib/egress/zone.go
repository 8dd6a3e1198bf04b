// Package egress decides where a machine's network traffic may go: the
// zone a project runs in, and which destinations each zone lets the guest
// reach.
//
// A zone is chosen with virtdev-start --net=<zone> or with the host-side
// file ~/.config/virtdev/projects/<name>/net. The guest never sees that
// file, and anything unexpected in it makes the project run in the
// strictest zone, none, rather than in a laxer one than its owner meant.
package egress

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"virtdev/lib/fsutil"
)

// Zone names what a project's guest may reach beyond the host's SSH
// forward, which works in every zone.
type Zone string

const (
	// None allows no egress at all.
	None Zone = "none"
	// WAN allows the public internet only: nothing on the host, on its
	// networks or in any range that is not globally routed.
	WAN Zone = "wan"
	// Full allows everything, the host's loopback included, as QEMU's
	// built-in user networking always did.
	Full Zone = "full"
)

// Default is the zone of a project that names none.
const Default = WAN

// Strictest is where a project lands when its zone file cannot be trusted.
const Strictest = None

// Zones lists every zone, strictest first.
var Zones = []Zone{None, WAN, Full}

// maxZoneFile bounds what ReadZoneFile reads: a zone name and a new line.
const maxZoneFile = 64

// ZoneError is a word that names no zone.
type ZoneError struct{ Word string }

func (e *ZoneError) Error() string {
	return fmt.Sprintf("unknown network zone %q: choose %s", e.Word, zoneChoices())
}

func zoneChoices() string {
	names := make([]string, len(Zones))
	for i, z := range Zones {
		names[i] = string(z)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ParseZone reads a zone name, exactly as written (e.g. --net=wan).
func ParseZone(word string) (Zone, error) {
	for _, z := range Zones {
		if word == string(z) {
			return z, nil
		}
	}
	return "", &ZoneError{Word: word}
}

// ReadZoneFile reads a project's zone file: one zone name, optionally
// followed by a new line. A missing file means Default, with no warning.
// Anything else unexpected (an unreadable file, a directory, extra lines,
// spaces, an unknown word) means Strictest, and warning says what was
// wrong and how to fix it.
func ReadZoneFile(path string) (zone Zone, warning string) {
	word, err := readZoneWord(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default, ""
	}
	if err == nil {
		if zone, err = ParseZone(word); err == nil {
			return zone, ""
		}
	}
	return Strictest, fmt.Sprintf("%s: %v\nThe project runs in network zone %s (no network) until the file names one zone: echo %s > %s",
		path, err, Strictest, Default, path)
}

func readZoneWord(path string) (string, error) {
	content, truncated, err := fsutil.ReadPrefix(path, maxZoneFile)
	if err != nil {
		return "", err
	}
	if truncated {
		return "", fmt.Errorf("longer than %d bytes, not a zone name", maxZoneFile)
	}
	word := strings.TrimSuffix(string(content), "\n")
	if strings.ContainsAny(word, "\n") {
		return "", errors.New("more than one line")
	}
	return word, nil
}
