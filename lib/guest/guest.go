// Package guest knows how a virtdev base is built: what the guest must
// contain to keep virtdev's contract (user dev with the virtdev key, locked
// passwords, passwordless sudo, hardened sshd serving the host key each
// machine is handed through fw_cfg, hostname from fw_cfg, /home by label, networkd and
// resolved, a working power button, serial autologin), which developer
// toolset it carries on top, and how a Debian system with both is
// bootstrapped with mmdebstrap and laid out on the two disks virtdev boots.
//
// The files and scripts the guest receives are rendered by pure functions so
// they can be read and tested here; Build runs the host tools that turn them
// into disk images.
package guest

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
)

// DefaultSuite is the Debian release a base is built from unless told.
const DefaultSuite = "bookworm"

// User is the guest account virtdev logs in as; its uid is fixed so that
// files copied between guests and backups keep their owner.
const (
	User = "dev"
	UID  = 1000
)

// Settings are the choices that shape a base.
type Settings struct {
	Suite     string       // Debian release, e.g. bookworm
	Mirror    string       // mmdebstrap mirror; empty means Debian's default
	PublicKey string       // one OpenSSH authorized_keys line for dev
	Timezone  string       // e.g. Europe/Berlin
	Locale    string       // e.g. en_US.UTF-8
	Keymap    string       // console keymap, e.g. us
	DNS       []netip.Addr // resolvers for systemd-resolved
	Packages  []string     // extra Debian packages (VIRTDEV_PACKAGES)
	Script    string       // path of VIRTDEV_SCRIPT on the host, or ""
}

// SettingError names the setting a value was refused for.
type SettingError struct {
	Variable string
	Value    string
	Want     string
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("%s=%q is not valid: %s", e.Variable, e.Value, e.Want)
}

// pattern compiles expr on its first use. Nearly every program links this
// package without ever checking a guest setting, and compiling all its
// patterns as each of them started cost a quarter of a millisecond, a
// sixth of an empty Go program's whole run.
func pattern(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var (
	suitePattern    = pattern(`^[a-z][a-z0-9-]*$`)
	timezonePattern = pattern(`^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$`)
	localePattern   = pattern(`^[A-Za-z0-9_]+(\.[A-Za-z0-9-]+)?(@[A-Za-z0-9]+)?$`)
	keymapPattern   = pattern(`^[A-Za-z0-9_.-]+$`)
)

// hostLocales is glibc's list of the locales it can generate, on the host.
// Debian's list in the guest comes from the same glibc sources, so a locale
// the host's list lacks is refused before the long build; without the file,
// the guest's own list decides, at the end of the build.
var hostLocales = "/usr/share/i18n/SUPPORTED"

// Check refuses values that would be pasted into guest files unsafely or
// that cannot name what they claim to. Whether a zone or keymap exists is
// known only inside the new system, and the setup script checks that; a
// locale is checked against the host's list when there is one.
func (s Settings) Check() error {
	if !suitePattern().MatchString(s.Suite) {
		return &SettingError{"--suite", s.Suite, "a Debian release name such as bookworm"}
	}
	if strings.ContainsAny(s.Mirror, "\n\r") {
		return &SettingError{"--mirror", s.Mirror, "one URL or sources line"}
	}
	if !timezonePattern().MatchString(s.Timezone) || strings.Contains(s.Timezone, "..") {
		return &SettingError{"VIRTDEV_TIMEZONE", s.Timezone, "a zone name such as Europe/Berlin or UTC"}
	}
	if !localePattern().MatchString(s.Locale) {
		return &SettingError{"VIRTDEV_LOCALE", s.Locale, "a locale name such as en_US.UTF-8"}
	}
	if s.needsLocales() && !listed(hostLocales, s.Locale) {
		return &SettingError{"VIRTDEV_LOCALE", s.Locale, "Debian cannot generate it: " + hostLocales +
			" on this host lists the locales it can, such as en_US.UTF-8"}
	}
	if !keymapPattern().MatchString(s.Keymap) {
		return &SettingError{"VIRTDEV_KEYMAP", s.Keymap, "a console keymap name such as us or de-latin1"}
	}
	for _, p := range s.Packages {
		if !packagePattern().MatchString(p) {
			return &SettingError{"VIRTDEV_PACKAGES", p, "Debian package names"}
		}
	}
	return nil
}

// needsLocales tells whether the locale must be generated: C.UTF-8 is built
// into Debian's libc, the rest come from the locales package.
func (s Settings) needsLocales() bool {
	switch s.Locale {
	case "C", "POSIX", "C.UTF-8", "C.utf8":
		return false
	}
	return true
}

// listed tells whether a list of locales (name and charset, a line each)
// names the locale; a list that cannot be read names them all.
func listed(list, locale string) bool {
	f, err := os.Open(list)
	if err != nil {
		return true
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if name, _, _ := strings.Cut(scanner.Text(), " "); name == locale {
			return true
		}
	}
	return scanner.Err() != nil
}
