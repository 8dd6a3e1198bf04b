package archiso

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/config"
	"virtdev/lib/guest"
)

func loadConfig(t *testing.T, vars ...string) *config.Config {
	t.Helper()
	m := map[string]string{"HOME": "/home/u", "VIRTDEV_TIMEZONE": "Europe/Lisbon", "VIRTDEV_LOCALE": "pt_PT.UTF-8",
		"VIRTDEV_KEYMAP": "pt-latin1", "VIRTDEV_DNS": "1.1.1.1 9.9.9.9"}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	c, err := config.Load(func(name string) string { return m[name] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadSettings(t *testing.T) {
	key := writeFile(t, "id.pub", testKey+"\n")
	packages := writeFile(t, "packages", "go # the language\nzig\n")
	script := writeFile(t, "script", "#!/bin/sh\ntrue\n")
	s, err := ReadSettings(loadConfig(t, "VIRTDEV_PACKAGES", packages, "VIRTDEV_SCRIPT", script), key)
	if err != nil {
		t.Fatal(err)
	}
	if s.PublicKey != testKey || s.Timezone != "Europe/Lisbon" || s.Locale != "pt_PT.UTF-8" || s.Keymap != "pt-latin1" ||
		!slices.Equal(s.DNS, []string{"1.1.1.1", "9.9.9.9"}) || !slices.Equal(s.Packages, []string{"go", "zig"}) ||
		string(s.Script) != "#!/bin/sh\ntrue\n" {
		t.Errorf("ReadSettings = %+v", s)
	}
	if s, err := ReadSettings(loadConfig(t), key); err != nil || s.Packages != nil || s.Script != nil {
		t.Errorf("ReadSettings without VIRTDEV_PACKAGES and VIRTDEV_SCRIPT = %+v, %v", s, err)
	}
}

func TestReadSettingsErrors(t *testing.T) {
	key := writeFile(t, "id.pub", testKey+"\n")
	missing := filepath.Join(t.TempDir(), "missing")
	_, err := ReadSettings(loadConfig(t), missing)
	var kerr *KeyMissingError
	if !errors.As(err, &kerr) || kerr.Path != missing || !strings.Contains(err.Error(), "virtdev-key") {
		t.Errorf("missing key: %v", err)
	}
	for _, tc := range []struct {
		name, what string
		key        string
		vars       []string
	}{
		{"malformed key", "the public key", writeFile(t, "bad.pub", "not a key\n"), nil},
		{"packages file missing", "VIRTDEV_PACKAGES", key, []string{"VIRTDEV_PACKAGES", missing}},
		{"package name wrong", "VIRTDEV_PACKAGES", key, []string{"VIRTDEV_PACKAGES", writeFile(t, "p", "go\nrm;-rf\n")}},
		{"script missing", "VIRTDEV_SCRIPT", key, []string{"VIRTDEV_SCRIPT", missing}},
		{"script a directory", "VIRTDEV_SCRIPT", key, []string{"VIRTDEV_SCRIPT", t.TempDir()}},
	} {
		_, err := ReadSettings(loadConfig(t, tc.vars...), tc.key)
		var ierr *InputError
		if !errors.As(err, &ierr) || ierr.What != tc.what {
			t.Errorf("%s: %v, want an InputError about %s", tc.name, err, tc.what)
		}
	}
	_, err = ReadSettings(loadConfig(t, "VIRTDEV_KEYMAP", "us;id"), key)
	var serr *guest.SettingError
	if !errors.As(err, &serr) || serr.Variable != "VIRTDEV_KEYMAP" {
		t.Errorf("bad keymap: %v", err)
	}
}
