// Package archiso makes the Arch Linux base's installation medium: an
// archiso profile embedded in the program, rendered with the user's
// settings into a directory, and built into an ISO by mkarchiso.
//
// The ISO boots a small live system that installs the base on the two
// empty disks of the installer machine (see qemu.Install) and powers off.
// The installed system keeps the same guest contract as the Debian base of
// package guest: the profile's configuration files are tested against
// guest.Files, and the values that shape them are checked by the same rules.
package archiso

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"regexp"

	"virtdev/lib/config"
	"virtdev/lib/guest"
)

// Settings are the values injected into the profile.
type Settings struct {
	PublicKey string   // one OpenSSH authorized_keys line for dev
	Timezone  string   // VIRTDEV_TIMEZONE, e.g. Europe/Berlin
	Locale    string   // VIRTDEV_LOCALE, e.g. en_US.UTF-8
	Keymap    string   // VIRTDEV_KEYMAP, e.g. us
	DNS       []string // VIRTDEV_DNS: the guest's resolvers
	Packages  []string // VIRTDEV_PACKAGES: Arch packages on top of the default list
	Script    []byte   // VIRTDEV_SCRIPT's text; nil when it is not set
}

// packagePattern is an Arch package name: lower-case letters, digits and
// @._+- , not starting with a hyphen or a dot.
var packagePattern = regexp.MustCompile(`^[a-z0-9@_+][a-z0-9@._+-]*$`)

// Check refuses every value that could not be pasted into the profile's
// files and scripts as it is. The time zone, locale, keymap and resolvers
// follow the Debian base's rules, so that one environment builds either
// base; package names follow Arch's.
func (s Settings) Check() error {
	if _, err := guest.ParsePublicKey([]byte(s.PublicKey)); err != nil {
		return &KeyError{s.PublicKey, err}
	}
	shared := guest.Settings{Suite: guest.DefaultSuite, Timezone: s.Timezone, Locale: s.Locale, Keymap: s.Keymap}
	if len(s.DNS) == 0 {
		return &guest.SettingError{Variable: "VIRTDEV_DNS", Want: "one or more IP addresses"}
	}
	for _, d := range s.DNS {
		addr, err := netip.ParseAddr(d)
		if err != nil || addr.Zone() != "" {
			return &guest.SettingError{Variable: "VIRTDEV_DNS", Value: d, Want: "IP addresses"}
		}
		shared.DNS = append(shared.DNS, addr)
	}
	if err := shared.Check(); err != nil {
		return err
	}
	for _, p := range s.Packages {
		if !packagePattern.MatchString(p) {
			return &guest.SettingError{Variable: "VIRTDEV_PACKAGES", Value: p, Want: "Arch Linux package names"}
		}
	}
	return nil
}

// ParsePackages reads a list of Arch packages: names separated by spaces
// or new lines, with everything after a # ignored. A wrong name is a
// *guest.PackageError.
func ParsePackages(r io.Reader) ([]string, error) {
	return guest.ParseNames(r, packagePattern, "an Arch Linux package name")
}

// DefaultPackages is what the installed system gets on top of Arch's base:
// the guest contract's packages and a developer's toolset.
func DefaultPackages() []string {
	data, err := fs.ReadFile(embedded, packagesFile)
	if err != nil {
		panic(err) // the file is compiled in; its tests read it too
	}
	names, err := ParsePackages(bytes.NewReader(data))
	if err != nil {
		panic(err)
	}
	return names
}

// KeyMissingError is a public key that does not exist yet.
type KeyMissingError struct{ Path string }

func (e *KeyMissingError) Error() string {
	return fmt.Sprintf("no virtdev public key at %s\nCreate the key pair with: virtdev-key", e.Path)
}

// KeyError is a public key that is not one authorized_keys line.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("the public key %q is not usable: %v", e.Key, e.Err)
}
func (e *KeyError) Unwrap() error { return e.Err }

// InputError is a file named by the settings (the public key,
// VIRTDEV_PACKAGES or VIRTDEV_SCRIPT) that cannot be used.
type InputError struct {
	What string // "the public key", "VIRTDEV_PACKAGES" or "VIRTDEV_SCRIPT"
	Path string
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s %s: %v", e.What, e.Path, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// ReadSettings gathers the settings from the configuration and the files
// it names, and checks them.
func ReadSettings(c *config.Config, publicKey string) (Settings, error) {
	s := Settings{Timezone: c.Timezone(), Locale: c.Locale(), Keymap: c.Keymap()}
	for _, addr := range c.DNS {
		s.DNS = append(s.DNS, addr.String())
	}
	data, err := os.ReadFile(publicKey)
	if errors.Is(err, fs.ErrNotExist) {
		return s, &KeyMissingError{publicKey}
	}
	if err == nil {
		s.PublicKey, err = guest.ParsePublicKey(data)
	}
	if err != nil {
		return s, &InputError{"the public key", publicKey, err}
	}
	if c.Packages != "" {
		data, err := os.ReadFile(c.Packages)
		if err == nil {
			s.Packages, err = ParsePackages(bytes.NewReader(data))
		}
		if err != nil {
			return s, &InputError{"VIRTDEV_PACKAGES", c.Packages, err}
		}
	}
	if c.Script != "" {
		info, err := os.Stat(c.Script)
		if err == nil && !info.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
		if err == nil {
			s.Script, err = os.ReadFile(c.Script)
		}
		if err != nil {
			return s, &InputError{"VIRTDEV_SCRIPT", c.Script, err}
		}
	}
	return s, s.Check()
}
