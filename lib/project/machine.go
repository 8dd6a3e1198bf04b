package project

import (
	"os"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
)

// FindMachine is Find for the programs that also serve the maintenance
// machine (stop, ssh, wait): name is a project, or maintenance, which
// exists while virtdev-maintain runs.
func FindMachine(l layout.Layout, name string) (layout.Machine, error) {
	if name != layout.Maintenance {
		return Find(l, name)
	}
	m := l.Machine(name)
	if info, err := os.Stat(m.Dir); err != nil || !info.IsDir() {
		return m, exitcode.New(exitcode.NotFound,
			"no maintenance machine: %s does not exist\nIt exists only while virtdev-maintain runs.", m.Dir)
	}
	return m, nil
}
