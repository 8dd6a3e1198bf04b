package qemu

import (
	"testing"

	"virtdev/lib/runstate"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name   string
		event  *ShutdownEvent
		signal string
		want   string
	}{
		{"guest powered off", &ShutdownEvent{Guest: true, Reason: "guest-shutdown"}, "", runstate.Clean},
		// A guest that powers off just as SIGTERM lands still shut down cleanly.
		{"guest won the race", &ShutdownEvent{Guest: true, Reason: "guest-shutdown"}, "SIGTERM", runstate.Clean},
		{"SIGTERM", &ShutdownEvent{Guest: false, Reason: "host-signal"}, "SIGTERM", runstate.Forced},
		{"SIGKILL, no event", nil, "SIGKILL", runstate.Forced},
		{"quit from elsewhere", &ShutdownEvent{Guest: false, Reason: "host-qmp-quit"}, "", runstate.Forced},
		{"crash", nil, "", runstate.Unknown},
	} {
		got := classify(c.event, c.signal)
		if got.How != c.want {
			t.Errorf("%s: How = %q, want %q", c.name, got.How, c.want)
		}
		if c.event != nil && (got.Reason != c.event.Reason || got.Guest != c.event.Guest) {
			t.Errorf("%s: event not kept: %+v", c.name, got)
		}
	}
}
