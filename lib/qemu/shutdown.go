package qemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"virtdev/lib/fsutil"
)

// How a machine ended, as Stop records it.
const (
	// Clean: the guest powered itself off (QMP SHUTDOWN with guest true).
	Clean = "clean"
	// Forced: QEMU was stopped from the host, by signal or otherwise.
	Forced = "forced"
	// Unknown: QEMU exited without a SHUTDOWN event while nothing forced
	// it, as a crash does.
	Unknown = "unknown"
)

// Shutdown is the record of how a machine last stopped, kept in its
// layout.Machine.Shutdown file for programs that act on it later (such as
// virtdev-maintain, which reseals only after a clean poweroff).
type Shutdown struct {
	How     string    `json:"how"`              // Clean, Forced or Unknown
	Guest   bool      `json:"guest"`            // QMP SHUTDOWN's guest flag
	Reason  string    `json:"reason,omitempty"` // QMP SHUTDOWN's reason; empty when none came
	Signal  string    `json:"signal,omitempty"` // the last signal virtdev sent QEMU, if any
	Presses int       `json:"presses"`          // how often the power button was pressed
	Exit    string    `json:"exit,omitempty"`   // how systemd saw QEMU end, e.g. "exit status 0"
	After   float64   `json:"after_seconds"`    // from the stop request to QEMU's exit
	Time    time.Time `json:"time"`             // when QEMU was seen gone
}

// Clean reports whether the guest powered off by itself.
func (s Shutdown) Clean() bool { return s.How == Clean }

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

// ErrNoShutdown means no stop was ever recorded for the machine.
var ErrNoShutdown = errors.New("no shutdown record")

// ReadShutdown reads a machine's shutdown record.
func ReadShutdown(path string) (Shutdown, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Shutdown{}, fmt.Errorf("%w: %s", ErrNoShutdown, path)
	}
	if err != nil {
		return Shutdown{}, err
	}
	var s Shutdown
	if err := json.Unmarshal(data, &s); err != nil {
		return Shutdown{}, fmt.Errorf("shutdown record %s is not valid: %w", path, err)
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
