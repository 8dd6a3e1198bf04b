package unit

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// InGroup tells whether process pid belongs to a unit, by its cgroup
// (Status.ControlGroup): /proc/<pid>/cgroup names the process's cgroup in
// each hierarchy, and systemd's (the unified one, or name=systemd beside
// the cgroup v1 controllers) puts it in the unit's group or below.
func InGroup(pid int, group string) (bool, error) {
	if group == "" || group == "/" {
		return false, nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false, err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		// hierarchy-ID:controllers:path
		fields := strings.SplitN(lines.Text(), ":", 3)
		if len(fields) != 3 || (fields[1] != "" && fields[1] != "name=systemd") {
			continue
		}
		if path := fields[2]; path == group || strings.HasPrefix(path, group+"/") {
			return true, nil
		}
	}
	return false, lines.Err()
}
