package config

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// Host detects the host's regional settings, for bases that should feel like
// the machine they run on. A detector returns "" when it cannot tell.
type Host struct {
	Root string // "/" on a real host; a fixture tree in tests
}

var systemHost = Host{Root: "/"}

func (h Host) path(p string) string { return filepath.Join(h.Root, p) }

// Timezone reads /etc/timezone (Debian) or the /etc/localtime link (systemd).
func (h Host) Timezone() string {
	if data, err := os.ReadFile(h.path("etc/timezone")); err == nil {
		if zone := strings.TrimSpace(string(data)); zone != "" {
			return zone
		}
	}
	target, err := os.Readlink(h.path("etc/localtime"))
	if err != nil {
		return ""
	}
	if _, zone, ok := strings.Cut(target, "zoneinfo/"); ok {
		return zone
	}
	return ""
}

// Locale prefers the calling environment, then the system-wide files. The
// bare C and POSIX locales say nothing about the user's language, so they
// count as undetected.
func (h Host) Locale(getenv func(string) string) string {
	for _, v := range []string{getenv("LC_ALL"), getenv("LANG")} {
		if meaningfulLocale(v) {
			return v
		}
	}
	for _, file := range []string{"etc/locale.conf", "etc/default/locale"} {
		if v := assignment(h.path(file), "LANG"); meaningfulLocale(v) {
			return v
		}
	}
	return ""
}

// Keymap reads the console keymap (systemd) or the X layout (Debian).
func (h Host) Keymap() string {
	if v := assignment(h.path("etc/vconsole.conf"), "KEYMAP"); v != "" {
		return v
	}
	return assignment(h.path("etc/default/keyboard"), "XKBLAYOUT")
}

func meaningfulLocale(v string) bool {
	return v != "" && v != "C" && v != "POSIX"
}

// assignment returns the value of NAME=value in a shell-style file.
func assignment(file, name string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != name {
			continue
		}
		value = strings.TrimSpace(value)
		value = strings.Trim(value, `"'`)
		if first, _, _ := strings.Cut(value, ","); first != "" {
			return first
		}
	}
	return ""
}
