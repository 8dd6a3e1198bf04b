package project_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"virtdev/lib/egress"
	"virtdev/lib/layout"
	"virtdev/lib/project"
)

// project.ConfiguredZones tells for many projects what ConfiguredZone tells for
// each: with no configuration at all, and with some projects configured,
// well or not.
func TestConfiguredZones(t *testing.T) {
	l := layout.Layout{Home: t.TempDir(), ConfigDir: filepath.Join(t.TempDir(), "virtdev")}
	names := []string{"plain", "full", "broken", "empty"}
	check := func(want []egress.Zone) {
		t.Helper()
		zones, warnings := project.ConfiguredZones(l, names)
		if !slices.Equal(zones, want) {
			t.Errorf("zones %q, want %q", zones, want)
		}
		for i, name := range names {
			zone, warning := project.ConfiguredZone(l, name)
			if zones[i] != zone || warnings[i] != warning {
				t.Errorf("%s: %q %q, where ConfiguredZone says %q %q", name, zones[i], warnings[i], zone, warning)
			}
		}
	}
	check([]egress.Zone{egress.Default, egress.Default, egress.Default, egress.Default})

	for name, content := range map[string]string{"full": "full\n", "broken": "everywhere\n"} {
		c := l.ProjectConfig(name)
		if err := os.MkdirAll(c.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.Net, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(l.ProjectConfig("empty").Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	check([]egress.Zone{egress.Default, egress.Full, egress.Strictest, egress.Default})
}
