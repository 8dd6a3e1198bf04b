package qemu

import (
	"time"

	"virtdev/lib/runstate"
)

// How a machine ended is recorded for the programs that act on it later
// (runstate.Shutdown); here is how the record is made.

// recordedEvent is the SHUTDOWN event a record was made from, or nil.
// QEMU has given every SHUTDOWN a reason since version 4.0.
func recordedEvent(s runstate.Shutdown) *ShutdownEvent {
	if s.Reason == "" {
		return nil
	}
	return &ShutdownEvent{Guest: s.Guest, Reason: s.Reason}
}

// classify decides how a machine ended from the SHUTDOWN event (nil when
// none arrived) and the signal virtdev sent, if any. The exit status plays
// no part: QEMU exits 0 on SIGTERM just as after a guest poweroff.
func classify(event *ShutdownEvent, signal string) runstate.Shutdown {
	switch {
	case event != nil && event.Guest:
		return runstate.Shutdown{How: runstate.Clean, Guest: true, Reason: event.Reason, Signal: signal}
	case event != nil:
		return runstate.Shutdown{How: runstate.Forced, Reason: event.Reason, Signal: signal}
	case signal != "":
		return runstate.Shutdown{How: runstate.Forced, Signal: signal}
	}
	return runstate.Shutdown{How: runstate.Unknown}
}

// readFreshShutdown reads the record written since begin, if there is one.
func readFreshShutdown(path string, begin time.Time) *runstate.Shutdown {
	rec, err := runstate.ReadShutdown(path)
	if err != nil || rec.Time.Before(begin) {
		return nil
	}
	return &rec
}
