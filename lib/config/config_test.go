package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// env is a fake environment: only the variables it names are set.
func env(vars ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	return func(name string) string { return m[name] }
}

// load reads the configuration against an empty host, so that nothing of the
// machine running the test leaks into the answers.
func load(t *testing.T, getenv func(string) string) *Config {
	t.Helper()
	c, err := Load(getenv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	c.host = Host{Root: t.TempDir()}
	return c
}

func TestDefaults(t *testing.T) {
	c := load(t, env("HOME", "/home/u"))
	for _, tc := range []struct{ name, got, want string }{
		{"Home", c.Home, "/home/u/.local/share/virtdev"},
		{"Cache", c.Cache, "/home/u/.cache/virtdev"},
		{"ConfigDir", c.ConfigDir, "/home/u/.config/virtdev"},
		{"SSHKey", c.SSHKey, "/home/u/.local/share/virtdev/ssh/id"},
		{"ISO", c.ISO, "/home/u/.cache/virtdev/virtdev.iso"},
		{"DNS", joined(c.DNS), "192.168.127.1"},
		{"MaintenanceNet", string(c.MaintenanceNet), "wan"},
		{"SystemDiskSize", c.SystemDiskSize.String(), "24G"},
		{"HomeDiskSize", c.HomeDiskSize.String(), "48G"},
		{"MinFree", c.MinFree.String(), "2G"},
		{"Accel", c.Accel, AccelAuto},
		{"CPU", c.CPU, "host"},
		{"Packages", c.Packages, ""},
		{"Script", c.Script, ""},
		{"Inventory", c.Inventory, ""},
		{"ISOProfile", c.ISOProfile, ""},
		{"OVMFCode", c.OVMFCode, ""},
		{"OVMFVars", c.OVMFVars, ""},
		{"Timezone", c.Timezone(), "UTC"},
		{"Locale", c.Locale(), "en_US.UTF-8"},
		{"Keymap", c.Keymap(), "us"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if c.MemoryMB != 4096 || c.CPUs != 4 {
		t.Errorf("MemoryMB, CPUs = %d, %d, want 4096, 4", c.MemoryMB, c.CPUs)
	}
	if c.StopTimeout != 60*time.Second || c.WaitTimeout != 120*time.Second {
		t.Errorf("StopTimeout, WaitTimeout = %v, %v, want 1m0s, 2m0s", c.StopTimeout, c.WaitTimeout)
	}
}

func TestXDG(t *testing.T) {
	c := load(t, env("HOME", "/home/u",
		"XDG_DATA_HOME", "/data", "XDG_CACHE_HOME", "/cache", "XDG_CONFIG_HOME", "/conf"))
	for _, tc := range []struct{ name, got, want string }{
		{"Home", c.Home, "/data/virtdev"},
		{"Cache", c.Cache, "/cache/virtdev"},
		{"ConfigDir", c.ConfigDir, "/conf/virtdev"},
		{"SSHKey", c.SSHKey, "/data/virtdev/ssh/id"},
		{"ISO", c.ISO, "/cache/virtdev/virtdev.iso"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// The VIRTDEV_ variables win over XDG, and the defaults derived from them
// follow them.
func TestOverrides(t *testing.T) {
	c := load(t, env("HOME", "/home/u", "XDG_DATA_HOME", "/data", "XDG_CACHE_HOME", "/cache",
		"VIRTDEV_HOME", "/v//home/", "VIRTDEV_CACHE", "/v/cache",
		"VIRTDEV_DNS", "1.1.1.1  2620:fe::fe", "VIRTDEV_VM_MEMORY", "1024", "VIRTDEV_VM_CPUS", "2",
		"VIRTDEV_STOP_TIMEOUT", "5", "VIRTDEV_WAIT_TIMEOUT", "300",
		"VIRTDEV_SYSTEM_DISK_SIZE", "10g", "VIRTDEV_HOME_DISK_SIZE", "512M", "VIRTDEV_ACCEL", "tcg",
		"VIRTDEV_MIN_FREE", "500m",
		"VIRTDEV_CPU", "host,-arch-capabilities", "VIRTDEV_MAINTENANCE_NET", "full",
		"VIRTDEV_PACKAGES", "/p", "VIRTDEV_SCRIPT", "/s", "VIRTDEV_INVENTORY", "/i",
		"VIRTDEV_ISO_PROFILE", "/prof", "OVMF_CODE", "/c.fd", "OVMF_VARS", "/v.fd",
		"VIRTDEV_TIMEZONE", "Europe/Lisbon", "VIRTDEV_LOCALE", "pt_PT.utf8", "VIRTDEV_KEYMAP", "pt-latin1"))
	for _, tc := range []struct{ name, got, want string }{
		{"Home", c.Home, "/v/home"},
		{"Cache", c.Cache, "/v/cache"},
		{"SSHKey", c.SSHKey, "/v/home/ssh/id"},
		{"ISO", c.ISO, "/v/cache/virtdev.iso"},
		{"DNS", joined(c.DNS), "1.1.1.1 2620:fe::fe"},
		{"SystemDiskSize", c.SystemDiskSize.String(), "10G"},
		{"HomeDiskSize", c.HomeDiskSize.String(), "512M"},
		{"MinFree", c.MinFree.String(), "500M"},
		{"Accel", c.Accel, AccelTCG},
		{"CPU", c.CPU, "host,-arch-capabilities"},
		{"MaintenanceNet", string(c.MaintenanceNet), "full"},
		{"Packages", c.Packages, "/p"},
		{"Script", c.Script, "/s"},
		{"Inventory", c.Inventory, "/i"},
		{"ISOProfile", c.ISOProfile, "/prof"},
		{"OVMFCode", c.OVMFCode, "/c.fd"},
		{"OVMFVars", c.OVMFVars, "/v.fd"},
		{"Timezone", c.Timezone(), "Europe/Lisbon"},
		{"Locale", c.Locale(), "pt_PT.UTF-8"},
		{"Keymap", c.Keymap(), "pt-latin1"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if c.MemoryMB != 1024 || c.CPUs != 2 || c.StopTimeout != 5*time.Second || c.WaitTimeout != 300*time.Second {
		t.Errorf("MemoryMB %d, CPUs %d, StopTimeout %v, WaitTimeout %v", c.MemoryMB, c.CPUs, c.StopTimeout, c.WaitTimeout)
	}
	c = load(t, env("HOME", "/home/u", "VIRTDEV_HOME", "/v", "VIRTDEV_SSH_KEY", "/keys/virtdev", "VIRTDEV_ISO", "/isos/a.iso"))
	if c.SSHKey != "/keys/virtdev" || c.ISO != "/isos/a.iso" {
		t.Errorf("SSHKey, ISO = %q, %q", c.SSHKey, c.ISO)
	}
	if got := c.Getenv("VIRTDEV_HOME"); got != "/v" {
		t.Errorf("Getenv(VIRTDEV_HOME) = %q, want /v", got)
	}
}

// VIRTDEV_MIN_FREE=0 turns the warning off; the bound itself is accepted.
func TestMinFreeLimits(t *testing.T) {
	for value, want := range map[string]Size{"0": 0, "1024T": MaxMinFree, "1": 1} {
		if c := load(t, env("HOME", "/home/u", "VIRTDEV_MIN_FREE", value)); c.MinFree != want {
			t.Errorf("VIRTDEV_MIN_FREE=%s: MinFree = %d, want %d", value, c.MinFree, want)
		}
	}
}

// HOME is needed only for the defaults derived from it.
func TestHomeUnneededWhenEverythingIsSet(t *testing.T) {
	c := load(t, env("XDG_DATA_HOME", "/d", "XDG_CACHE_HOME", "/c", "XDG_CONFIG_HOME", "/f"))
	if c.Home != "/d/virtdev" {
		t.Errorf("Home = %q", c.Home)
	}
	c = load(t, env("VIRTDEV_HOME", "/v", "VIRTDEV_CACHE", "/c", "XDG_CONFIG_HOME", "/f"))
	if c.Home != "/v" || c.Cache != "/c" || c.ConfigDir != "/f/virtdev" {
		t.Errorf("Home, Cache, ConfigDir = %q, %q, %q", c.Home, c.Cache, c.ConfigDir)
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct{ variable, value string }{
		{"VIRTDEV_VM_MEMORY", "4G"},
		{"VIRTDEV_VM_MEMORY", "0"},
		{"VIRTDEV_VM_MEMORY", "-1"},
		{"VIRTDEV_VM_MEMORY", "+4096"},
		{"VIRTDEV_VM_MEMORY", " 4096"},
		{"VIRTDEV_VM_MEMORY", "4096.5"},
		{"VIRTDEV_VM_MEMORY", "0x1000"},
		{"VIRTDEV_VM_MEMORY", "99999999999999999999"},
		{"VIRTDEV_VM_CPUS", "four"},
		{"VIRTDEV_VM_CPUS", "0"},
		{"VIRTDEV_STOP_TIMEOUT", "60s"},
		{"VIRTDEV_STOP_TIMEOUT", "0"},
		{"VIRTDEV_STOP_TIMEOUT", "-5"},
		{"VIRTDEV_WAIT_TIMEOUT", "2m"},
		{"VIRTDEV_WAIT_TIMEOUT", "1.5"},
		// Bounded, so that no duration or size overflows into a negative one.
		{"VIRTDEV_WAIT_TIMEOUT", "10000000000"},
		{"VIRTDEV_STOP_TIMEOUT", "10000000000"},
		{"VIRTDEV_STOP_TIMEOUT", "604801"},
		{"VIRTDEV_VM_MEMORY", "16777217"},
		{"VIRTDEV_VM_CPUS", "1025"},
		// Paths are printed one per line.
		{"VIRTDEV_HOME", "/tmp/a\nb"},
		{"VIRTDEV_SSH_KEY", "/tmp/id\r"},
		{"VIRTDEV_SYSTEM_DISK_SIZE", "24GB"},
		{"VIRTDEV_SYSTEM_DISK_SIZE", "0G"},
		{"VIRTDEV_SYSTEM_DISK_SIZE", "G"},
		{"VIRTDEV_SYSTEM_DISK_SIZE", "24GK"},
		{"VIRTDEV_SYSTEM_DISK_SIZE", "024G"},
		{"VIRTDEV_HOME_DISK_SIZE", "-48G"},
		{"VIRTDEV_HOME_DISK_SIZE", "48 G"},
		{"VIRTDEV_HOME_DISK_SIZE", "48gb"},
		{"VIRTDEV_HOME_DISK_SIZE", "99999999999T"},
		{"VIRTDEV_MIN_FREE", "2GB"},
		{"VIRTDEV_MIN_FREE", "-1"},
		{"VIRTDEV_MIN_FREE", "00"},
		{"VIRTDEV_MIN_FREE", "1025T"},
		{"VIRTDEV_ACCEL", "KVM"},
		{"VIRTDEV_ACCEL", "hvf"},
		{"VIRTDEV_CPU", "host -arch-capabilities"},
		{"VIRTDEV_CPU", "-arch-capabilities"},
		{"VIRTDEV_CPU", ",host"},
		{"VIRTDEV_CPU", "host;reboot"},
		{"VIRTDEV_DNS", "dns.quad9.net"},
		{"VIRTDEV_DNS", "9.9.9.9,1.1.1.1"},
		{"VIRTDEV_DNS", "   "},
		{"VIRTDEV_DNS", "cafe"},
		{"VIRTDEV_DNS", "9.9.9"},
		{"VIRTDEV_DNS", "9.9.9.9 ..."},
		{"VIRTDEV_DNS", "1.2.3.456"},
		{"VIRTDEV_DNS", "fe80::1%eth0"},
		{"VIRTDEV_MAINTENANCE_NET", "lan"},
		{"VIRTDEV_MAINTENANCE_NET", "WAN"},
		{"VIRTDEV_MAINTENANCE_NET", "full\n"},
		{"VIRTDEV_HOME", "relative/virtdev"},
		{"VIRTDEV_HOME", "~/virtdev"},
		{"VIRTDEV_CACHE", "cache"},
		{"VIRTDEV_SSH_KEY", "id_ed25519"},
		{"XDG_DATA_HOME", "share"},
		{"XDG_CACHE_HOME", "./cache"},
		{"XDG_CONFIG_HOME", "config"},
	} {
		t.Run(tc.variable+"="+tc.value, func(t *testing.T) {
			c, err := Load(env("HOME", "/home/u", tc.variable, tc.value))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load = %+v, %v; want a *config.Error", c, err)
			}
			if e.Variable != tc.variable || e.Value != tc.value {
				t.Errorf("error names %s=%q, want %s=%q", e.Variable, e.Value, tc.variable, tc.value)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.variable+"=") || !strings.Contains(msg, "unset "+tc.variable) {
				t.Errorf("message does not name the variable and the fix:\n%s", msg)
			}
		})
	}
}

func TestMissingHome(t *testing.T) {
	_, err := Load(env())
	var e *Error
	if !errors.As(err, &e) || e.Variable != "HOME" {
		t.Fatalf("Load without HOME = %v, want an error naming HOME", err)
	}
	if !strings.Contains(err.Error(), "XDG_DATA_HOME") || strings.Contains(err.Error(), "unset HOME") {
		t.Errorf("message should say what HOME is needed for, and not suggest unsetting it:\n%s", err)
	}
}

// fixture builds a host root with the given files; a value starting with
// "-> " makes a symbolic link instead.
func fixture(t *testing.T, files map[string]string) Host {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			err = os.Symlink(target, path)
		} else {
			err = os.WriteFile(path, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return Host{Root: root}
}

func TestHostTimezone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"debian file", map[string]string{"etc/timezone": "Europe/Berlin\n",
			"etc/localtime": "-> /usr/share/zoneinfo/Asia/Tokyo"}, "Europe/Berlin"},
		{"absolute link", map[string]string{"etc/localtime": "-> /usr/share/zoneinfo/America/New_York"}, "America/New_York"},
		{"relative link", map[string]string{"etc/localtime": "-> ../usr/share/zoneinfo/Asia/Tokyo"}, "Asia/Tokyo"},
		{"blank file, link", map[string]string{"etc/timezone": " \n", "etc/localtime": "-> /usr/share/zoneinfo/Etc/UTC"}, "Etc/UTC"},
		{"copied file", map[string]string{"etc/localtime": "TZif2..."}, ""},
		{"link elsewhere", map[string]string{"etc/localtime": "-> /opt/tz/Berlin"}, ""},
		{"nothing", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fixture(t, tc.files)
			if got := h.Timezone(); got != tc.want {
				t.Errorf("Timezone() = %q, want %q", got, tc.want)
			}
			c := load(t, env("HOME", "/home/u"))
			c.host = h
			want := tc.want
			if want == "" {
				want = "UTC"
			}
			if got := c.Timezone(); got != want {
				t.Errorf("Config.Timezone() = %q, want %q", got, want)
			}
		})
	}
}

func TestHostLocale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vars  []string
		files map[string]string
		want  string
	}{
		{"LC_ALL first", []string{"LC_ALL", "de_DE.UTF-8", "LANG", "fr_FR.UTF-8"}, nil, "de_DE.UTF-8"},
		{"LC_ALL=C is skipped", []string{"LC_ALL", "C", "LANG", "fr_FR.UTF-8"}, nil, "fr_FR.UTF-8"},
		{"LANG=POSIX falls to locale.conf", []string{"LANG", "POSIX"},
			map[string]string{"etc/locale.conf": "LANG=pt_BR.UTF-8\n"}, "pt_BR.UTF-8"},
		{"locale.conf before default/locale", nil, map[string]string{
			"etc/locale.conf": "LC_TIME=C\nLANG=nl_NL.UTF-8\n", "etc/default/locale": "LANG=es_ES.UTF-8\n"}, "nl_NL.UTF-8"},
		{"quoted default/locale", nil, map[string]string{"etc/default/locale": "#LANG=xx\nLANG=\"es_ES.UTF-8\"\n"}, "es_ES.UTF-8"},
		{"C in the file counts as nothing", nil, map[string]string{
			"etc/locale.conf": "LANG=C\n", "etc/default/locale": "LANG=POSIX\n"}, ""},
		{"everything C", []string{"LC_ALL", "C", "LANG", "C"}, nil, ""},
		{"nothing", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fixture(t, tc.files)
			if got := h.Locale(env(tc.vars...)); got != tc.want {
				t.Errorf("Locale() = %q, want %q", got, tc.want)
			}
			c := load(t, env(append([]string{"HOME", "/home/u"}, tc.vars...)...))
			c.host = h
			want := tc.want
			if want == "" {
				want = "en_US.UTF-8"
			}
			if got := c.Locale(); got != want {
				t.Errorf("Config.Locale() = %q, want %q", got, want)
			}
		})
	}
}

func TestHostKeymap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"vconsole", map[string]string{"etc/vconsole.conf": "FONT=lat2\nKEYMAP=de-latin1\n",
			"etc/default/keyboard": "XKBLAYOUT=fr\n"}, "de-latin1"},
		{"debian keyboard", map[string]string{"etc/default/keyboard": "XKBMODEL=pc105\nXKBLAYOUT=\"fr,us\"\n"}, "fr"},
		{"empty keymap", map[string]string{"etc/vconsole.conf": "KEYMAP=\n", "etc/default/keyboard": "XKBLAYOUT='gb'\n"}, "gb"},
		{"nothing", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fixture(t, tc.files)
			if got := h.Keymap(); got != tc.want {
				t.Errorf("Keymap() = %q, want %q", got, tc.want)
			}
			c := load(t, env("HOME", "/home/u"))
			c.host = h
			want := tc.want
			if want == "" {
				want = "us"
			}
			if got := c.Keymap(); got != want {
				t.Errorf("Config.Keymap() = %q, want %q", got, want)
			}
		})
	}
}

func joined[T fmt.Stringer](values []T) string {
	words := make([]string, len(values))
	for i, v := range values {
		words[i] = v.String()
	}
	return strings.Join(words, " ")
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]Size{
		"24G": 24 << 30, "24g": 24 << 30, "512M": 512 << 20, "512m": 512 << 20,
		"1T": 1 << 40, "1t": 1 << 40, "8k": 8 << 10, "8K": 8 << 10, "4096": 4096,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "g", "-1G", "+1G", "1.5G", "0", "0G", "024G", "1 G", "1GB", "1P", "99999999999T"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

// What qemu-img is given is the canonical spelling, whatever the user
// typed.
func TestSizeString(t *testing.T) {
	for in, want := range map[string]string{
		"24g": "24G", "1024m": "1G", "1536M": "1536M", "4096": "4K", "1000": "1000", "2048G": "2T", "3t": "3T",
	} {
		size, err := ParseSize(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := size.String(); got != want {
			t.Errorf("ParseSize(%q).String() = %q, want %q", in, got, want)
		}
		if again, err := ParseSize(size.String()); err != nil || again != size {
			t.Errorf("%q does not read back as %d: %d, %v", size.String(), size, again, err)
		}
	}
}

// A host locale spelled the way glibc prints it reaches the guest spelled
// the way Debian's list of locales names it.
func TestLocaleSpelling(t *testing.T) {
	for in, want := range map[string]string{
		"en_US.utf8":          "en_US.UTF-8",
		"de_DE.UTF8":          "de_DE.UTF-8",
		"fr_FR.Utf-8":         "fr_FR.UTF-8",
		"en_US.UTF-8":         "en_US.UTF-8",
		"ca_ES.utf8@valencia": "ca_ES.UTF-8@valencia",
		"C.utf8":              "C.UTF-8",
		"sr_RS@latin":         "sr_RS@latin",
		"en_US":               "en_US",
		"de_DE.ISO-8859-1":    "de_DE.ISO-8859-1",
		"ja_JP.eucJP":         "ja_JP.eucJP",
		"en_US.utf16":         "en_US.utf16",
	} {
		if got := normalLocale(in); got != want {
			t.Errorf("normalLocale(%q) = %q, want %q", in, got, want)
		}
	}
	for _, vars := range [][]string{{"VIRTDEV_LOCALE", "de_DE.utf8"}, {"LANG", "de_DE.utf8"}} {
		c := load(t, env(append([]string{"HOME", "/home/u"}, vars...)...))
		if got := c.Locale(); got != "de_DE.UTF-8" {
			t.Errorf("%s=%s: Locale() = %q, want de_DE.UTF-8", vars[0], vars[1], got)
		}
	}
	c := load(t, env("HOME", "/home/u"))
	c.host = fixture(t, map[string]string{"etc/locale.conf": "LANG=pt_BR.utf8\n"})
	if got := c.Locale(); got != "pt_BR.UTF-8" {
		t.Errorf("locale.conf LANG=pt_BR.utf8: Locale() = %q, want pt_BR.UTF-8", got)
	}
}
