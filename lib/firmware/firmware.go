// Package firmware finds the UEFI firmware (OVMF) a machine boots with.
//
// The code image and the variable-store template come as a pair: a store
// made for the 4 MiB build does not fit the 2 MiB one. OVMF_CODE and
// OVMF_VARS win when set; otherwise QEMU's own firmware descriptors say what
// the host has, and the usual distribution paths are the last resort.
package firmware

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Pair is a firmware code image and the template of its variable store.
type Pair struct {
	Code   string
	Vars   string
	Source string // where the pair came from, for messages
}

// Environment is what discovery reads from the host.
type Environment struct {
	Code, Vars    string // OVMF_CODE, OVMF_VARS
	ConfigHome    string // XDG_CONFIG_HOME (or ~/.config)
	QEMU          string // resolved path of qemu-system-x86_64, if any
	DescriptorDir []string
	Fallbacks     []Pair
}

// Fallbacks are the paths distributions install OVMF to, for hosts whose
// QEMU ships no descriptors.
var Fallbacks = []Pair{
	{Code: "/usr/share/edk2/x64/OVMF_CODE.4m.fd", Vars: "/usr/share/edk2/x64/OVMF_VARS.4m.fd", Source: "Arch edk2-ovmf"},
	{Code: "/usr/share/OVMF/OVMF_CODE_4M.fd", Vars: "/usr/share/OVMF/OVMF_VARS_4M.fd", Source: "Debian ovmf"},
	{Code: "/usr/share/OVMF/OVMF_CODE.fd", Vars: "/usr/share/OVMF/OVMF_VARS.fd", Source: "Debian/Ubuntu ovmf"},
	{Code: "/usr/share/edk2/ovmf/OVMF_CODE.fd", Vars: "/usr/share/edk2/ovmf/OVMF_VARS.fd", Source: "Fedora edk2-ovmf"},
	{Code: "/run/libvirt/nix-ovmf/OVMF_CODE.fd", Vars: "/run/libvirt/nix-ovmf/OVMF_VARS.fd", Source: "NixOS libvirt"},
}

// HostEnvironment describes this host to Discover.
func HostEnvironment(getenv func(string) string) Environment {
	env := Environment{
		Code:       getenv("OVMF_CODE"),
		Vars:       getenv("OVMF_VARS"),
		ConfigHome: getenv("XDG_CONFIG_HOME"),
		Fallbacks:  Fallbacks,
	}
	if env.ConfigHome == "" && getenv("HOME") != "" {
		env.ConfigHome = filepath.Join(getenv("HOME"), ".config")
	}
	if qemu, err := exec.LookPath("qemu-system-x86_64"); err == nil {
		if resolved, err := filepath.EvalSymlinks(qemu); err == nil {
			env.QEMU = resolved
		}
	}
	// Later directories override earlier ones file by file, as QEMU's
	// firmware.json specification orders them.
	env.DescriptorDir = []string{"/usr/share/qemu/firmware", "/etc/qemu/firmware"}
	if env.QEMU != "" {
		prefix := filepath.Dir(filepath.Dir(env.QEMU)) // …/bin/qemu → …
		env.DescriptorDir = append([]string{filepath.Join(prefix, "share", "qemu", "firmware")}, env.DescriptorDir...)
	}
	if env.ConfigHome != "" {
		env.DescriptorDir = append(env.DescriptorDir, filepath.Join(env.ConfigHome, "qemu", "firmware"))
	}
	return env
}

// Error explains why no firmware could be used.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

// Discover picks the firmware pair for a q35 x86_64 machine.
func Discover(env Environment) (Pair, error) {
	if env.Code != "" || env.Vars != "" {
		return fromVariables(env)
	}
	if pair, ok := fromDescriptors(env.DescriptorDir); ok {
		return pair, nil
	}
	for _, pair := range env.Fallbacks {
		if isFile(pair.Code) && isFile(pair.Vars) {
			return pair, nil
		}
	}
	var tried []string
	for _, pair := range env.Fallbacks {
		tried = append(tried, pair.Code)
	}
	return Pair{}, &Error{fmt.Sprintf(
		"no UEFI firmware (OVMF) found: no usable descriptor in %s, and none of %s exists\n"+
			"Install it (Debian/Ubuntu: apt install ovmf; Arch: pacman -S edk2-ovmf; Fedora: dnf install edk2-ovmf),\n"+
			"or point OVMF_CODE and OVMF_VARS at a code image and its variable-store template.",
		strings.Join(env.DescriptorDir, ", "), strings.Join(tried, ", "))}
}

func fromVariables(env Environment) (Pair, error) {
	if env.Code == "" || env.Vars == "" {
		return Pair{}, &Error{fmt.Sprintf(
			"OVMF_CODE=%q and OVMF_VARS=%q: set both (a code image and the variable-store template built with it), or neither to discover them",
			env.Code, env.Vars)}
	}
	for _, v := range []struct{ name, path string }{{"OVMF_CODE", env.Code}, {"OVMF_VARS", env.Vars}} {
		if !isFile(v.path) {
			return Pair{}, &Error{fmt.Sprintf("%s=%s: no such file\nFix the path, or unset OVMF_CODE and OVMF_VARS to discover the firmware", v.name, v.path)}
		}
	}
	return Pair{Code: env.Code, Vars: env.Vars, Source: "OVMF_CODE and OVMF_VARS"}, nil
}

// descriptor is the part of QEMU's firmware.json schema virtdev reads.
type descriptor struct {
	InterfaceTypes []string `json:"interface-types"`
	Mapping        struct {
		Device     string `json:"device"`
		Executable struct {
			Filename string `json:"filename"`
			Format   string `json:"format"`
		} `json:"executable"`
		NVRAMTemplate struct {
			Filename string `json:"filename"`
			Format   string `json:"format"`
		} `json:"nvram-template"`
	} `json:"mapping"`
	Targets []struct {
		Architecture string   `json:"architecture"`
		Machines     []string `json:"machines"`
	} `json:"targets"`
	Features []string `json:"features"`
}

func fromDescriptors(dirs []string) (Pair, bool) {
	// A file in a later directory replaces the same name in an earlier one;
	// then the names, in order, rank the candidates.
	byName := map[string]string{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".json") {
				byName[e.Name()] = filepath.Join(dir, e.Name())
			}
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		data, err := os.ReadFile(byName[name])
		if err != nil {
			continue
		}
		var d descriptor
		if json.Unmarshal(data, &d) != nil || !suitable(d) {
			continue
		}
		pair := Pair{Code: d.Mapping.Executable.Filename, Vars: d.Mapping.NVRAMTemplate.Filename, Source: byName[name]}
		if isFile(pair.Code) && isFile(pair.Vars) {
			return pair, true
		}
	}
	return Pair{}, false
}

// suitable keeps plain UEFI flash builds for q35: virtdev enables neither
// SMM nor Secure Boot key enrolment, and boots a raw-format pflash.
func suitable(d descriptor) bool {
	if !slices.Contains(d.InterfaceTypes, "uefi") || d.Mapping.Device != "flash" {
		return false
	}
	if d.Mapping.Executable.Format != "raw" || d.Mapping.NVRAMTemplate.Format != "raw" {
		return false
	}
	for _, f := range d.Features {
		switch f {
		case "requires-smm", "secure-boot", "enrolled-keys", "amd-sev-es", "intel-tdx":
			return false
		}
	}
	for _, t := range d.Targets {
		if t.Architecture != "x86_64" {
			continue
		}
		for _, m := range t.Machines {
			if ok, _ := filepath.Match(m, "pc-q35-7.2"); ok || m == "q35" {
				return true
			}
		}
	}
	return false
}

func isFile(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}
