package validate_test

import (
	"strings"
	"testing"

	"virtdev/lib/exitcode"
	"virtdev/lib/validate"
)

func code(err error) int {
	n, _ := exitcode.Of(err)
	return n
}

func TestProjectName(t *testing.T) {
	for _, name := range []string{"p", "my-project", "My_Project_2", "_", "0", "a-", strings.Repeat("a", 100), "maintenance", "base"} {
		if err := validate.ProjectName(name); err != nil {
			t.Errorf("ProjectName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", strings.Repeat("a", 101), "bad/name", "../x", ".", "..", "a.b",
		"with space", "tab\t", "new\nline", "ümlaut", "a:b", "$(rm)", "a@b", "-", "-p", "--help"} {
		err := validate.ProjectName(name)
		if code(err) != exitcode.InvalidName.N {
			t.Errorf("ProjectName(%q) = %v (code %d), want code 2", name, err, code(err))
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "invalid project name") || !strings.Contains(msg, "a-z A-Z 0-9 _ and -") {
			t.Errorf("ProjectName(%q) message lacks the name rule:\n%s", name, msg)
		}
	}
}

// The suggested name is itself valid, so a user can copy it.
func TestProjectNameSuggestion(t *testing.T) {
	for _, tc := range []struct{ name, suggestion string }{
		{"bad/name", `"bad-name"`},
		{"", `"myproject"`},
		{"a b", `"a-b"`},
		{strings.Repeat("x", 150), `"` + strings.Repeat("x", 100) + `"`},
		{"-p", `"p"`},
		{"--", `"myproject"`},
		{"/etc", `"etc"`},
	} {
		msg := validate.ProjectName(tc.name).Error()
		if !strings.Contains(msg, "such as "+tc.suggestion) {
			t.Errorf("ProjectName(%q) suggests something else than %s:\n%s", tc.name, tc.suggestion, msg)
		}
	}
}

func TestNewProjectName(t *testing.T) {
	if err := validate.NewProjectName("p"); err != nil {
		t.Errorf("NewProjectName(p) = %v", err)
	}
	if err := validate.NewProjectName(strings.Repeat("a", 100)); err != nil {
		t.Errorf("NewProjectName(100 chars) = %v", err)
	}
	err := validate.NewProjectName("maintenance")
	if code(err) != exitcode.InvalidName.N || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("NewProjectName(maintenance) = %v, want exit 2 saying it is reserved", err)
	}
	for _, name := range []string{"", strings.Repeat("a", 101), "../x"} {
		if code(validate.NewProjectName(name)) != exitcode.InvalidName.N {
			t.Errorf("NewProjectName(%q) accepted", name)
		}
	}
	if err := validate.NewProjectName("Maintenance"); err != nil {
		t.Errorf("NewProjectName(Maintenance) = %v; only the exact reserved name is refused", err)
	}
}

func TestPort(t *testing.T) {
	for text, want := range map[string]int{
		"1024": 1024, "2222": 2222, "65535": 65535, "02222": 2222, "01024": 1024, "08080": 8080,
	} {
		got, err := validate.Port(text)
		if err != nil || got != want {
			t.Errorf("Port(%q) = %d, %v, want %d", text, got, err, want)
		}
	}
	for _, text := range []string{"", "1023", "0", "65536", "99999", "-2222", "+2222", "2222 ", " 2222",
		"0x8ae", "2e3", "22.22", "port", "123456"} {
		got, err := validate.Port(text)
		if code(err) != exitcode.Usage.N {
			t.Errorf("Port(%q) = %d, %v, want a usage error", text, got, err)
			continue
		}
		if !strings.Contains(err.Error(), "1024 to 65535") {
			t.Errorf("Port(%q) message lacks the range:\n%s", text, err)
		}
	}
}

func TestSnapshotID(t *testing.T) {
	for _, id := range []string{"2026-04-25/14-30-22", "2024-02-29/00-00-00", "1999-12-31/23-59-59"} {
		if err := validate.SnapshotID(id); err != nil {
			t.Errorf("SnapshotID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{
		"", "2026-04-25", "14-30-22", "2026-04-25/14-30", "2026-04-25 14-30-22", "2026-04-25/14:30:22",
		"2026-02-30/10-00-00", "2025-02-29/10-00-00", "2026-13-01/10-00-00", "2026-00-10/10-00-00",
		"2026-04-00/10-00-00", "2026-04-25/24-00-00", "2026-04-25/10-60-00", "2026-04-25/10-00-60",
		"../x", "2026-04-25/../../x", "../../2026-04-25/14-30-22", "/2026-04-25/14-30-22",
		"2026-04-25/14-30-22/", "2026-04-25/14-30-22/..", "2026-4-25/14-30-22", "２０２６-04-25/14-30-22",
	} {
		err := validate.SnapshotID(id)
		if code(err) != exitcode.SnapshotID.N {
			t.Errorf("SnapshotID(%q) = %v, want exit 79", id, err)
			continue
		}
		if !strings.Contains(err.Error(), "virtdev-backup --list") {
			t.Errorf("SnapshotID(%q) message does not say how to list ids:\n%s", id, err)
		}
	}
}
