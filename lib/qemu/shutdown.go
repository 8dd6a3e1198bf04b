package qemu

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
// The machine's supervisor writes it when QEMU exits, from QEMU's SHUTDOWN
// event and exit status; virtdev-stop, when it stopped the machine, adds
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

// event is the SHUTDOWN event the record was made from, or nil. QEMU has
// given every SHUTDOWN a reason since version 4.0.
func (s Shutdown) event() *ShutdownEvent {
	if s.Reason == "" {
		return nil
	}
	return &ShutdownEvent{Guest: s.Guest, Reason: s.Reason}
}

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

// classify decides how a machine ended from the SHUTDOWN event (nil when
// none arrived) and the signal virtdev sent, if any. The exit status plays
// no part: QEMU exits 0 on SIGTERM just as after a guest poweroff.
func classify(event *ShutdownEvent, signal string) Shutdown {
	switch {
	case event != nil && event.Guest:
		return Shutdown{How: Clean, Guest: true, Reason: event.Reason, Signal: signal}
	case event != nil:
		return Shutdown{How: Forced, Reason: event.Reason, Signal: signal}
	case signal != "":
		return Shutdown{How: Forced, Signal: signal}
	}
	return Shutdown{How: Unknown}
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

// readFreshShutdown reads the record written since begin, if there is one.
func readFreshShutdown(path string, begin time.Time) *Shutdown {
	rec, err := ReadShutdown(path)
	if err != nil || rec.Time.Before(begin) {
		return nil
	}
	return &rec
}
