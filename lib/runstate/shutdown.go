package runstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"virtdev/lib/fsutil"
)

// How a machine ended.
const (
	// Clean: the guest powered itself off (QMP SHUTDOWN with guest true).
	Clean = "clean"
	// Forced: QEMU was stopped from the host, by signal or otherwise.
	Forced = "forced"
	// Unknown: QEMU exited without a SHUTDOWN event while nothing forced
	// it, as a crash does.
	Unknown = "unknown"
)

// Shutdown is the record of how a machine last ended, kept in its
// layout.Machine.Shutdown file for programs that act on it later (such as
// virtdev-maintain, which reseals only after a clean poweroff).
//
// The machine's supervisor (package qemu) writes it when QEMU exits, from
// QEMU's SHUTDOWN event and exit status; virtdev-stop, when it stopped the machine, adds
// what it did and rewrites it (or writes it alone, when the supervisor was
// killed before it could).
type Shutdown struct {
	How    string `json:"how"`              // Clean, Forced or Unknown
	Guest  bool   `json:"guest"`            // QMP SHUTDOWN's guest flag
	Reason string `json:"reason,omitempty"` // QMP SHUTDOWN's reason; empty when none came
	// State is QEMU's status when virtdev-stop found the guest unable to
	// handle the power button (internal-error, guest-panicked, …).
	State   RunState `json:"state,omitempty"`
	Signal  string   `json:"signal,omitempty"` // the last signal virtdev-stop sent, if any
	Presses int      `json:"presses"`          // how often virtdev-stop pressed the power button
	Exit    string   `json:"exit,omitempty"`   // how QEMU ended, e.g. "exit status 0"
	// Messages are QEMU's last lines on stderr, the whole of them being
	// in the unit's journal.
	Messages []string  `json:"messages,omitempty"`
	After    float64   `json:"after_seconds"` // from the stop request to QEMU's exit; 0 without one
	Time     time.Time `json:"time"`          // when QEMU was seen gone
}

// Clean reports whether the guest powered off by itself.
func (s Shutdown) Clean() bool { return s.How == Clean }

// Describe says how the machine ended, for messages.
func (s Shutdown) Describe() string {
	var parts []string
	switch s.How {
	case Clean:
		parts = append(parts, "clean guest poweroff")
	case Forced:
		parts = append(parts, "forced")
	default:
		parts = append(parts, "QEMU reported no shutdown")
	}
	if s.Reason != "" && s.How != Clean {
		parts = append(parts, "QEMU reason "+s.Reason)
	}
	if s.Signal != "" {
		parts = append(parts, s.Signal)
	}
	if s.Exit != "" {
		parts = append(parts, "QEMU "+s.Exit)
	}
	return strings.Join(parts, ", ")
}

// ErrNoShutdown means no end was ever recorded for the machine.
var ErrNoShutdown = errors.New("no shutdown record")

// maxShutdownFile bounds what is read of a record: a real one takes a few
// hundred bytes.
const maxShutdownFile = 64 << 10

// ReadShutdown reads a machine's shutdown record.
func ReadShutdown(path string) (Shutdown, error) {
	data, truncated, err := fsutil.ReadPrefix(path, maxShutdownFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Shutdown{}, fsutil.Absent(ErrNoShutdown, path)
	}
	if err != nil {
		return Shutdown{}, err
	}
	var s Shutdown
	if err := json.Unmarshal(data, &s); truncated || err != nil {
		return Shutdown{}, fmt.Errorf("shutdown record %s is not valid: it holds %s", path, fsutil.Excerpt(data, truncated))
	}
	switch s.How {
	case Clean, Forced, Unknown:
	default:
		return Shutdown{}, fmt.Errorf("shutdown record %s: unknown outcome %q", path, s.How)
	}
	return s, nil
}

// WriteShutdown replaces a machine's shutdown record in one step.
func WriteShutdown(path string, s Shutdown) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(path, append(data, '\n'), 0o644)
}
