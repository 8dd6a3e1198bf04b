package sshx

import (
	"context"
	"fmt"
	"time"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/qemu"
	"virtdev/lib/runstate"
	"virtdev/lib/state"
)

// Host is where a machine's SSH server answers: always loopback, on the
// port its forward was given.
const Host = "127.0.0.1"

// Target is a machine a program may connect to.
type Target struct {
	Name    string
	Machine layout.Machine
	Port    int
	Key     string // the private key, checked
}

// Addr is the host:port of the machine's SSH forward.
func (t Target) Addr() string { return fmt.Sprintf("%s:%d", Host, t.Port) }

// Unit is the systemd unit running the machine.
func (t Target) Unit() string { return layout.Unit(t.Name) }

// Locate checks, without touching the systemd manager, that name is a
// machine that was started (it has a port file holding a port) and that the
// key is usable. name may be a project or the maintenance machine.
func Locate(l layout.Layout, name string) (Target, error) {
	m, err := project.FindMachine(l, name)
	if err != nil {
		return Target{}, err
	}
	port, err := project.ReadPort(m)
	if err != nil {
		return Target{}, err
	}
	if err := CheckKey(l.SSHKey); err != nil {
		return Target{}, err
	}
	return Target{Name: name, Machine: m, Port: port, Key: l.SSHKey}, nil
}

// statusTimeout bounds the question to QEMU before a connection: a
// monitor that another client holds (virtdev-monitor) must not delay
// every ssh for long.
const statusTimeout = time.Second

// CheckRunning refuses a machine whose port file outlived its unit (after a
// crash or a host reboot): connecting there would reach whatever else now
// holds the port. It refuses too a machine whose guest cannot answer, where
// ssh would hang: one QEMU paused (*qemu.HaltedError, saying why), or one
// whose guest failed (*qemu.FailedError). A monitor that does not answer
// within statusTimeout says nothing, and the connection goes ahead.
func CheckRunning(ctx context.Context, units qemu.UnitWatcher, t Target) error {
	st, err := units.Status(ctx, t.Unit())
	if err != nil {
		return exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether %s runs", t.Name)
	}
	if !st.Running() {
		return state.UnitDown(t.Machine, st.Describe())
	}
	if c, err := runstate.Examine(ctx, t.Machine, statusTimeout); err == nil {
		return qemu.GuestErr(t.Name, c)
	}
	return nil
}
