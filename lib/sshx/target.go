package sshx

import (
	"context"
	"fmt"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/project"
	"virtdev/lib/qemu"
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

// CheckRunning refuses a machine whose port file outlived its unit (after a
// crash or a host reboot): connecting there would reach whatever else now
// holds the port.
func CheckRunning(ctx context.Context, units qemu.UnitWatcher, t Target) error {
	st, err := units.Status(ctx, t.Unit())
	if err != nil {
		return exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether %s runs", t.Name)
	}
	if st.Running() {
		return nil
	}
	return state.UnitDown(t.Machine, st)
}
