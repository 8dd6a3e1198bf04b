// Package config reads virtdev's settings from the environment.
//
// Every setting is an environment variable with an XDG-aware default; no
// configuration file is required. Load validates everything it reads so that
// a typo such as VIRTDEV_VM_MEMORY=4G fails at once with the variable's name,
// instead of surfacing later as a confusing QEMU error.
package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"virtdev/lib/egress"
	"virtdev/lib/exitcode"
)

// Defaults that the seed documentation promises, but for the resolver.
const (
	// DefaultDNS is the machine's own network, which resolves names on
	// the host and leaves out the answers the project's zone refuses;
	// the seed's fixed public resolver would bypass that filter, and
	// resolve no name of a LAN a zone full lets the guest reach.
	DefaultDNS            = egress.GatewayIP
	DefaultSystemDiskSize = "24G"
	DefaultHomeDiskSize   = "48G"
	DefaultMemoryMB       = 4096
	DefaultCPUs           = 4
	DefaultStopTimeout    = 60 * time.Second
	DefaultWaitTimeout    = 120 * time.Second
	DefaultMinFree        = "2G"
	// DefaultCPU gives a KVM guest the host's own processor model.
	DefaultCPU = "host"
)

// Accelerator choices for VIRTDEV_ACCEL.
const (
	AccelAuto = "auto"
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

// Config is the resolved configuration of one program run.
type Config struct {
	Home      string // VIRTDEV_HOME
	SSHKey    string // VIRTDEV_SSH_KEY
	Cache     string // VIRTDEV_CACHE
	ConfigDir string // ${XDG_CONFIG_HOME}/virtdev

	DNS []netip.Addr // VIRTDEV_DNS
	// MaintenanceNet is VIRTDEV_MAINTENANCE_NET, the network zone of the
	// machines that build and change the base: the installer and the
	// maintenance machine.
	MaintenanceNet egress.Zone
	Packages       string // VIRTDEV_PACKAGES: a file naming extra packages
	Script         string // VIRTDEV_SCRIPT: a script run inside a new base
	Inventory      string // VIRTDEV_INVENTORY
	ISOProfile     string // VIRTDEV_ISO_PROFILE
	ISO            string // VIRTDEV_ISO

	SystemDiskSize Size // VIRTDEV_SYSTEM_DISK_SIZE
	HomeDiskSize   Size // VIRTDEV_HOME_DISK_SIZE
	MemoryMB       int  // VIRTDEV_VM_MEMORY
	CPUs           int  // VIRTDEV_VM_CPUS
	StopTimeout    time.Duration
	WaitTimeout    time.Duration
	// MinFree is VIRTDEV_MIN_FREE: start and create warn when the file
	// system under VIRTDEV_HOME has less room; 0 turns the warning off.
	MinFree Size

	OVMFCode string // OVMF_CODE; empty means "discover"
	OVMFVars string // OVMF_VARS; empty means "discover"
	Accel    string // VIRTDEV_ACCEL: auto, kvm or tcg
	// CPU is VIRTDEV_CPU, QEMU's -cpu under KVM (TCG emulates its own
	// model): a model and features, such as host,-arch-capabilities for
	// a nested host that cannot give a guest every feature it has.
	CPU string

	getenv func(string) string
	host   Host
}

// Error reports one malformed environment variable.
type Error struct {
	Variable string
	Value    string
	Want     string
}

func (e *Error) ExitCode() int { return exitcode.Config.N }

func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s is not set: %s.", e.Variable, e.Want)
	}
	return fmt.Sprintf("%s=%q is not valid: %s.\nFix the value or unset it to use the default: unset %s",
		e.Variable, e.Value, e.Want, e.Variable)
}

// Load reads the configuration from getenv (os.Getenv in programs).
func Load(getenv func(string) string) (*Config, error) {
	c := &Config{getenv: getenv, host: systemHost}
	home := getenv("HOME")
	// xdg is virtdev's directory inside an XDG base directory.
	xdg := func(variable, fallback string) (string, error) {
		if v := getenv(variable); v != "" {
			if !filepath.IsAbs(v) {
				return "", &Error{variable, v, "it must be an absolute path"}
			}
			return filepath.Join(v, "virtdev"), nil
		}
		if home == "" {
			return "", &Error{"HOME", "", "it is needed because " + variable +
				" is not set; set HOME to your home directory or " + variable + " to an absolute path"}
		}
		return filepath.Join(home, fallback, "virtdev"), nil
	}
	// The XDG directories are consulted only for the defaults they feed, so
	// that HOME is needed only when one of them is actually used.
	var err error
	if c.Home, err = absolute(getenv, "VIRTDEV_HOME", func() (string, error) {
		return xdg("XDG_DATA_HOME", ".local/share")
	}); err != nil {
		return nil, err
	}
	if c.Cache, err = absolute(getenv, "VIRTDEV_CACHE", func() (string, error) {
		return xdg("XDG_CACHE_HOME", ".cache")
	}); err != nil {
		return nil, err
	}
	if c.ConfigDir, err = xdg("XDG_CONFIG_HOME", ".config"); err != nil {
		return nil, err
	}
	if c.SSHKey, err = absolute(getenv, "VIRTDEV_SSH_KEY", func() (string, error) {
		return filepath.Join(c.Home, "ssh", "id"), nil
	}); err != nil {
		return nil, err
	}
	// Paths are printed one per line on standard output, so none may hold
	// a line break, whether given or derived from HOME or XDG_*.
	for _, p := range []struct{ variable, path string }{
		{"VIRTDEV_HOME", c.Home}, {"VIRTDEV_CACHE", c.Cache}, {"XDG_CONFIG_HOME", c.ConfigDir}, {"VIRTDEV_SSH_KEY", c.SSHKey},
	} {
		if strings.ContainsAny(p.path, "\n\r") {
			return nil, &Error{p.variable, p.path, "the path must not hold a line break: virtdev prints paths one per line (if it was not set, HOME or an XDG variable holds one)"}
		}
	}
	c.ISO = or(getenv("VIRTDEV_ISO"), filepath.Join(c.Cache, "virtdev.iso"))
	c.Packages = getenv("VIRTDEV_PACKAGES")
	c.Script = getenv("VIRTDEV_SCRIPT")
	c.Inventory = getenv("VIRTDEV_INVENTORY")
	c.ISOProfile = getenv("VIRTDEV_ISO_PROFILE")
	c.OVMFCode = getenv("OVMF_CODE")
	c.OVMFVars = getenv("OVMF_VARS")

	if c.SystemDiskSize, err = diskSize(getenv, "VIRTDEV_SYSTEM_DISK_SIZE", DefaultSystemDiskSize); err != nil {
		return nil, err
	}
	if c.HomeDiskSize, err = diskSize(getenv, "VIRTDEV_HOME_DISK_SIZE", DefaultHomeDiskSize); err != nil {
		return nil, err
	}
	if c.MemoryMB, err = bounded(getenv, "VIRTDEV_VM_MEMORY", DefaultMemoryMB, MaxMemoryMB, "a whole number of megabytes such as 4096"); err != nil {
		return nil, err
	}
	if c.CPUs, err = bounded(getenv, "VIRTDEV_VM_CPUS", DefaultCPUs, MaxCPUs, "a whole number of virtual CPUs such as 4"); err != nil {
		return nil, err
	}
	if c.StopTimeout, err = seconds(getenv, "VIRTDEV_STOP_TIMEOUT", DefaultStopTimeout); err != nil {
		return nil, err
	}
	if c.WaitTimeout, err = seconds(getenv, "VIRTDEV_WAIT_TIMEOUT", DefaultWaitTimeout); err != nil {
		return nil, err
	}
	if c.MinFree, err = minFree(getenv, "VIRTDEV_MIN_FREE", DefaultMinFree); err != nil {
		return nil, err
	}
	switch c.Accel = or(getenv("VIRTDEV_ACCEL"), AccelAuto); c.Accel {
	case AccelAuto, AccelKVM, AccelTCG:
	default:
		return nil, &Error{"VIRTDEV_ACCEL", c.Accel, "it must be auto, kvm or tcg"}
	}
	if c.CPU = or(getenv("VIRTDEV_CPU"), DefaultCPU); !validCPU(c.CPU) {
		return nil, &Error{"VIRTDEV_CPU", c.CPU, "it must be a QEMU CPU model with optional features, such as host or host,-arch-capabilities (qemu-system-x86_64 -cpu help lists them)"}
	}
	if c.DNS, err = addresses(getenv, "VIRTDEV_DNS", DefaultDNS); err != nil {
		return nil, err
	}
	if c.MaintenanceNet, err = egress.ParseZone(or(getenv("VIRTDEV_MAINTENANCE_NET"), string(egress.Default))); err != nil {
		return nil, &Error{"VIRTDEV_MAINTENANCE_NET", getenv("VIRTDEV_MAINTENANCE_NET"), "it must be a network zone: none, wan or full"}
	}
	return c, nil
}

// Getenv returns the environment the configuration was loaded from, for
// programs that pass variables on (triggers, mkarchiso).
func (c *Config) Getenv(name string) string { return c.getenv(name) }

// Timezone is VIRTDEV_TIMEZONE, else the host's zone, else UTC.
func (c *Config) Timezone() string {
	return firstOf(c.getenv("VIRTDEV_TIMEZONE"), c.host.Timezone(), "UTC")
}

// Locale is VIRTDEV_LOCALE, else the host's locale, else en_US.UTF-8,
// spelled as Debian's list of locales spells it (see normalLocale).
func (c *Config) Locale() string {
	return normalLocale(firstOf(c.getenv("VIRTDEV_LOCALE"), c.host.Locale(c.getenv), "en_US.UTF-8"))
}

// Keymap is VIRTDEV_KEYMAP, else the host's console keymap, else us.
func (c *Config) Keymap() string {
	return firstOf(c.getenv("VIRTDEV_KEYMAP"), c.host.Keymap(), "us")
}

func or(value, fallback string) string {
	if value != "" {
		return value
	}
	return fallback
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func absolute(getenv func(string) string, variable string, fallback func() (string, error)) (string, error) {
	v := getenv(variable)
	if v == "" {
		return fallback()
	}
	if !filepath.IsAbs(v) {
		return "", &Error{variable, v, "it must be an absolute path"}
	}
	return filepath.Clean(v), nil
}

func diskSize(getenv func(string) string, variable, fallback string) (Size, error) {
	v := or(getenv(variable), fallback)
	size, err := ParseSize(v)
	if err != nil {
		return 0, &Error{variable, v, "it must be a size such as 24G (a whole number with an optional K, M, G or T suffix)"}
	}
	return size, nil
}

// Upper bounds of the numeric settings: far above any real use, and low
// enough that no arithmetic on them can overflow.
const (
	MaxMemoryMB = 16 << 20 // 16 TiB
	MaxCPUs     = 1024
	MaxSeconds  = 7 * 24 * 60 * 60 // a week
	MaxMinFree  = Size(1 << 50)    // a PiB
)

// minFree reads a size as the disk sizes are written, or 0 for none.
func minFree(getenv func(string) string, variable, fallback string) (Size, error) {
	v := or(getenv(variable), fallback)
	if v == "0" {
		return 0, nil
	}
	size, err := ParseSize(v)
	if err != nil || size > MaxMinFree {
		return 0, &Error{variable, v, "it must be a size such as 2G (a whole number with an optional K, M, G or T suffix) up to 1024T, or 0 for no warning"}
	}
	return size, nil
}

// bounded reads a whole number from 1 to max.
func bounded(getenv func(string) string, variable string, fallback, max int, want string) (int, error) {
	v := getenv(variable)
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > max || strings.HasPrefix(v, "+") {
		return 0, &Error{variable, v, fmt.Sprintf("it must be %s, from 1 to %d", want, max)}
	}
	return n, nil
}

func seconds(getenv func(string) string, variable string, fallback time.Duration) (time.Duration, error) {
	n, err := bounded(getenv, variable, int(fallback/time.Second), MaxSeconds, "a whole number of seconds")
	return time.Duration(n) * time.Second, err
}

// validCPU accepts what QEMU's -cpu option reads, model[,feature...] with
// features such as +avx, -arch-capabilities or pmu=off, and nothing that
// could make it read another option.
func validCPU(v string) bool {
	if v == "" || v[0] == '-' || v[0] == ',' {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.,+=", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func addresses(getenv func(string) string, variable, fallback string) ([]netip.Addr, error) {
	v := or(getenv(variable), fallback)
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return nil, &Error{variable, v, "it must be one or more IP addresses separated by spaces"}
	}
	addrs := make([]netip.Addr, len(fields))
	for i, f := range fields {
		a, err := netip.ParseAddr(f)
		// A zone names an interface of the host, which the guest lacks.
		if err != nil || a.Zone() != "" {
			return nil, &Error{variable, v, "it must be one or more IP addresses separated by spaces"}
		}
		addrs[i] = a
	}
	return addrs, nil
}
