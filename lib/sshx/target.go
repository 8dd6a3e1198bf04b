package sshx

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
	"virtdev/lib/unit"
	"virtdev/lib/validate"
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
	if err := validate.ProjectName(name); err != nil {
		return Target{}, err
	}
	m := l.Machine(name)
	if info, err := os.Stat(m.Dir); err != nil || !info.IsDir() {
		if name == layout.Maintenance {
			return Target{}, exitcode.New(exitcode.NotFound,
				"no maintenance machine: %s does not exist\nIt exists only while virtdev-maintain runs.", m.Dir)
		}
		return Target{}, exitcode.New(exitcode.NotFound,
			"project %q not found (no directory %s)\nCreate it with: virtdev-create %s", name, m.Dir, name)
	}
	port, err := ReadPort(m)
	if err != nil {
		return Target{}, err
	}
	if err := CheckKey(l.SSHKey); err != nil {
		return Target{}, err
	}
	return Target{Name: name, Machine: m, Port: port, Key: l.SSHKey}, nil
}

// ReadPort reads the port file, whose presence means the machine runs.
func ReadPort(m layout.Machine) (int, error) {
	data, err := os.ReadFile(m.Port)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, notRunning(m)
	}
	if err != nil {
		return 0, exitcode.Wrap(exitcode.CorruptPort, err, "cannot read the port file of %s", m.Name)
	}
	port, err := validate.Port(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, exitcode.New(exitcode.CorruptPort,
			"the port file %s holds %q, not a port\nvirtdev-start writes it; stop and start the machine again: virtdev-stop %s && virtdev-start %s",
			m.Port, strings.TrimSpace(string(data)), m.Name, m.Name)
	}
	return port, nil
}

func notRunning(m layout.Machine) error {
	return exitcode.New(exitcode.NotRunning, "%s is not running (no port file %s)\nStart it with: virtdev-start %s",
		m.Name, m.Port, m.Name)
}

// Connect reaches the systemd user manager; failing that is exitcode.NoUserManager.
func Connect(ctx context.Context) (*unit.Manager, error) {
	m, err := unit.Connect(ctx)
	if err != nil {
		return nil, exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether the machine runs")
	}
	return m, nil
}

// CheckRunning refuses a machine whose port file outlived its unit (after a
// crash or a host reboot): connecting there would reach whatever else now
// holds the port.
func CheckRunning(ctx context.Context, units *unit.Manager, t Target) error {
	st, err := units.Status(ctx, t.Unit())
	if err != nil {
		return exitcode.Wrap(exitcode.NoUserManager, err, "cannot check whether %s runs", t.Name)
	}
	if st.Running() {
		return nil
	}
	return UnitDown(t, st)
}

// UnitDown explains that the unit of t is not running, with how it ended.
func UnitDown(t Target, st unit.Status) error {
	how := st.ActiveState
	if st.Result != "" && st.Result != "success" {
		how += ", result " + st.Result
	}
	if ended := st.Ended(); ended != "" {
		how += ", QEMU " + ended
	}
	return exitcode.New(exitcode.StalePort,
		"%s is not running: its unit %s is %s\nSee what happened: journalctl --user -u %s\nStart it again with: virtdev-start %s",
		t.Name, t.Unit(), how, t.Unit(), t.Name)
}
