package qemu

import (
	"context"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/runstate"
	"virtdev/lib/unit"
)

// StatusInterval is how often Watch asks QEMU how the machine is.
const StatusInterval = time.Second

// UnitWatcher is what watching a machine needs of the systemd user
// manager.
type UnitWatcher interface {
	Status(ctx context.Context, unit string) (unit.Status, error)
	WaitDown(ctx context.Context, unit string) (unit.Status, error)
}

// Watch follows a running machine until something ends its prospects, and
// returns what it saw: QEMU's exit (its unit went down: *EndedError, with
// the supervisor's record), a guest that cannot go on (*FailedError), or
// a machine QEMU paused (*HaltedError, with why). The unit is watched
// over D-Bus, and QEMU asked for the machine's status every interval, each
// time over a connection of its own. It returns ctx's error when ctx ends
// first.
func Watch(ctx context.Context, units UnitWatcher, m layout.Machine, interval time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	name := layout.Unit(m.Name)
	begin := time.Now()
	seen := make(chan error, 2)
	go func() {
		st, err := units.WaitDown(ctx, name)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			seen <- exitcode.Wrap(exitcode.NoUserManager, err, "lost track of %s", name)
		default:
			seen <- &EndedError{Name: m.Name, Unit: name, Record: readFreshShutdown(m.Shutdown, begin), Ended: st.Ended()}
		}
	}()
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			// A monitor that cannot be reached says nothing: QEMU may be
			// busy with another client, or going away, which the unit
			// tells.
			if c, err := runstate.Examine(ctx, m, commandTimeout); err == nil {
				if err := GuestErr(m.Name, c); err != nil {
					seen <- err
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	select {
	case err := <-seen:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
