package state

import (
	"context"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/lock"
	"virtdev/lib/project"
	"virtdev/lib/userbus"
)

// CheckRunning checks that a machine runs and returns its SSH port. Its
// port file must name a port (exitcode.NotRunning without one,
// exitcode.CorruptPort when it holds something else), and its unit must
// run, or the file outlived the machine (exitcode.StalePort). The unit
// runs while the machine's supervisor holds its up lock (lock.IsUp);
// otherwise systemd is asked, in one exchange (userbus.ActiveStates), for
// programs whose whole run is this check.
func CheckRunning(ctx context.Context, m layout.Machine) (int, error) {
	port, err := project.ReadPort(m)
	if err != nil || lock.IsUp(m) {
		return port, err
	}
	name := layout.Unit(m.Name)
	active, err := userbus.ActiveStates(ctx, name)
	if err != nil {
		return 0, err
	}
	if !userbus.Running(active[name]) {
		return 0, UnitDown(m, active[name])
	}
	return port, nil
}

// UnitDown explains that the unit of a machine that has a port file is
// not running, with how it ended: its ActiveState and what more systemd
// told of its end (unit.Status.Describe), "" for a unit systemd no longer
// has loaded.
func UnitDown(m layout.Machine, how string) error {
	if how == "" {
		how = "inactive" // not even loaded any more
	}
	name := layout.Unit(m.Name)
	return exitcode.New(exitcode.StalePort,
		"%s is not running: its unit %s is %s\nSee what happened: journalctl --user -u %s\nStart it again with: virtdev-start %s",
		m.Name, name, how, name, m.Name)
}
