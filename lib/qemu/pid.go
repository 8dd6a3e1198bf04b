package qemu

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
)

// ErrNoPID means QEMU has not written its PID file: it is not running, or
// only starting.
var ErrNoPID = errors.New("QEMU has written no PID file")

// ReadPID reads the process ID QEMU wrote to the machine's PID file as it
// started (-pidfile). Whether that process is still the machine's QEMU is
// for the caller to check against its unit (unit.InGroup).
func ReadPID(m layout.Machine) (int, error) {
	data, truncated, err := fsutil.ReadPrefix(m.QEMUPid, 32)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s does not exist", ErrNoPID, m.QEMUPid)
	}
	if err != nil {
		return 0, err
	}
	text := strings.TrimSpace(string(data))
	pid, err := strconv.Atoi(text)
	if truncated || err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s holds %s, not a process ID", m.QEMUPid, fsutil.Excerpt([]byte(text), truncated))
	}
	return pid, nil
}
