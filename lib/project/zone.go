package project

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"virtdev/lib/egress"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
)

// WriteZone records the network zone a machine is started in, in a
// runtime file beside its port file (layout.Machine.Zone): what its guest
// may reach is then known to every program while it runs.
func WriteZone(m layout.Machine, zone egress.Zone) error {
	if err := fsutil.WriteAtomic(m.Zone, []byte(string(zone)+"\n"), 0o644); err != nil {
		return fmt.Errorf("cannot record the machine's network zone in %s: %w", m.Zone, err)
	}
	return nil
}

// Zone is the network zone a running machine was started in; "" with no
// error when the machine does not run (it has no zone file). A file that
// names no zone is an error: the zone in force is then unknown, which a
// listing says rather than guessing.
func Zone(m layout.Machine) (egress.Zone, error) {
	data, truncated, err := fsutil.ReadPrefix(m.Zone, 16)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cannot read the network zone of %s: %w", m.Name, err)
	}
	zone, err := egress.ParseZone(strings.TrimSuffix(string(data), "\n"))
	if truncated || err != nil {
		return "", fmt.Errorf("the zone file %s of %s holds %s, not a network zone", m.Zone, m.Name, fsutil.Excerpt(data, truncated))
	}
	return zone, nil
}

// ConfiguredZone is the network zone project name starts in when no zone
// is asked for (virtdev-start --net): the one its net file names, else
// egress.Default. warning says what is wrong with a file that names no
// zone; the zone is then egress.Strictest.
func ConfiguredZone(l layout.Layout, name string) (zone egress.Zone, warning string) {
	return egress.ReadZoneFile(l.ProjectConfig(name).Net)
}

// ConfiguredZones is ConfiguredZone for each of names. The projects'
// configuration directories are listed once, and only the projects that
// have one are looked at: list asks for every project, and most have no
// configuration.
func ConfiguredZones(l layout.Layout, names []string) (zones []egress.Zone, warnings []string) {
	zones, warnings = make([]egress.Zone, len(names)), make([]string, len(names))
	entries, err := os.ReadDir(l.ProjectConfigs())
	configured := make(map[string]bool, len(entries))
	for _, e := range entries {
		configured[e.Name()] = true
	}
	for i, name := range names {
		// A project without a configuration directory has no net file;
		// when the directories cannot be listed, each project's own look
		// says why.
		if err == nil && !configured[name] || errors.Is(err, fs.ErrNotExist) {
			zones[i] = egress.Default
			continue
		}
		zones[i], warnings[i] = ConfiguredZone(l, name)
	}
	return zones, warnings
}
