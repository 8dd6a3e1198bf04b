package project

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
	"virtdev/lib/validate"
)

// maxPortFile bounds what is read of a port file: a port and a newline
// take at most six bytes, so anything longer is corrupt whatever follows,
// and a huge file is never read whole (nor quoted whole in a message).
const maxPortFile = 16

// ReadPort reads a machine's port file, whose presence means the machine
// runs (virtdev-start writes it, the machine's end removes it). No file is
// exitcode.NotRunning; a file that holds no port is exitcode.CorruptPort.
func ReadPort(m layout.Machine) (int, error) {
	data, truncated, err := fsutil.ReadPrefix(m.Port, maxPortFile)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, exitcode.New(exitcode.NotRunning, "%s is not running (no port file %s)\nStart it with: virtdev-start %s",
			m.Name, m.Port, m.Name)
	}
	if err != nil {
		return 0, exitcode.Wrap(exitcode.CorruptPort, err, "cannot read the port file of %s", m.Name)
	}
	text := strings.TrimSuffix(string(data), "\n")
	port, err := strconv.Atoi(text)
	if truncated || err != nil || port < validate.MinPort || port > validate.MaxPort || text != strconv.Itoa(port) {
		return 0, exitcode.New(exitcode.CorruptPort,
			"the port file %s holds %s, not a port\nvirtdev-start writes it; stop and start the machine again: virtdev-stop %s && virtdev-start %s",
			m.Port, fsutil.Excerpt([]byte(text), truncated), m.Name, m.Name)
	}
	return port, nil
}

// WritePort replaces a machine's port file in one step, so that a reader
// never sees it half written.
func WritePort(m layout.Machine, port int) error {
	return fsutil.WriteAtomic(m.Port, []byte(strconv.Itoa(port)+"\n"), 0o644)
}

// ClaimedPorts maps the ports named by the port files of every project
// and of the maintenance machine to the machine's name. A file that holds
// no port claims nothing.
func ClaimedPorts(l layout.Layout) (map[int]string, error) {
	entries, err := List(l)
	if err != nil {
		return nil, err
	}
	names := []string{layout.Maintenance}
	for _, e := range entries {
		// A project no program may use starts no machine either.
		if e.Err == nil {
			names = append(names, e.Name)
		}
	}
	claimed := map[int]string{}
	for _, name := range names {
		if port, err := ReadPort(l.Machine(name)); err == nil {
			claimed[port] = name
		}
	}
	return claimed, nil
}
