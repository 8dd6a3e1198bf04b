package archiso

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"virtdev/lib/config"
	"virtdev/lib/guest"
)

// embedded is virtdev's own archiso profile, under profile/.
//
//go:embed all:profile
var embedded embed.FS

// Paths inside a profile.
const (
	embeddedRoot = "profile"
	profiledef   = "profiledef.sh"
	packagesFile = embeddedRoot + "/airootfs/usr/local/share/virtdev/packages"
	// liveInjectedDir is where the installer finds the settings in the
	// live system; a profile of one's own reads them there too.
	liveInjectedDir = "/root/virtdev"
	// InjectedDir is where Render puts the settings in any profile, the
	// embedded one or VIRTDEV_ISO_PROFILE.
	InjectedDir = "airootfs" + liveInjectedDir
)

// ErrNoProfiledef is a profile directory without the profiledef.sh that
// mkarchiso reads first.
var ErrNoProfiledef = errors.New("it has no profiledef.sh, which every archiso profile needs")

// ProfileError is a profile that cannot be used or rendered.
type ProfileError struct {
	Path string
	Err  error
}

func (e *ProfileError) Error() string {
	if errors.Is(e.Err, ErrNoProfiledef) {
		return fmt.Sprintf("VIRTDEV_ISO_PROFILE=%s is not an archiso profile: %v\n"+
			"Point it at a profile directory, or unset it to use virtdev's own.", e.Path, e.Err)
	}
	return fmt.Sprintf("cannot render the archiso profile %s: %v", e.Path, e.Err)
}

func (e *ProfileError) Unwrap() error { return e.Err }

// Render writes a profile into dir, which must not exist: virtdev's own, or
// the directory override (VIRTDEV_ISO_PROFILE) when it is not empty, with
// the settings injected under InjectedDir. On any error dir is removed.
func Render(dir, override string, s Settings) (err error) {
	if err := s.Check(); err != nil {
		return err
	}
	source := embeddedRoot
	if override != "" {
		source = override
		if err := CheckProfile(override); err != nil {
			return err
		}
	}
	ids, err := guest.NewIDs()
	if err != nil {
		return &ProfileError{source, fmt.Errorf("cannot draw filesystem identifiers: %w", err)}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return &ProfileError{source, err}
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if override != "" {
		err = copyDir(override, dir)
	} else {
		err = copyEmbedded(dir)
	}
	if err == nil {
		err = inject(dir, s, ids)
	}
	if err != nil {
		return &ProfileError{source, err}
	}
	return nil
}

// CheckProfile refuses a profile directory (VIRTDEV_ISO_PROFILE) that is
// not one: a *ProfileError, wrapping ErrNoProfiledef when it lacks
// profiledef.sh. Render checks it too; a program checks it first, before
// it looks for the tools that only a build needs.
func CheckProfile(dir string) error {
	info, err := os.Stat(dir)
	if err == nil && !info.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		return &ProfileError{dir, err}
	}
	info, err = os.Stat(filepath.Join(dir, profiledef))
	if errors.Is(err, fs.ErrNotExist) || err == nil && !info.Mode().IsRegular() {
		return &ProfileError{dir, ErrNoProfiledef}
	}
	if err != nil {
		return &ProfileError{dir, err}
	}
	return nil
}

// copyEmbedded writes the embedded profile. Scripts, the files that start
// with #!, are executable; mkarchiso sets the modes that matter in the
// live system itself, from profiledef.sh.
func copyEmbedded(dir string) error {
	return fs.WalkDir(embedded, embeddedRoot, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, strings.TrimPrefix(strings.TrimPrefix(name, embeddedRoot), "/"))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := embedded.ReadFile(name)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(string(data), "#!") {
			mode = 0o755
		}
		return os.WriteFile(dst, data, mode)
	})
}

// copyDir copies a profile of the user's: directories, regular files with
// their permissions, and symbolic links as links (archiso profiles use them
// to enable units and point at the live system's files).
func copyDir(src, dir string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case rel == ".":
			return nil
		case d.IsDir():
			return os.Mkdir(dst, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case info.Mode().IsRegular():
			return copyFile(p, dst, info.Mode().Perm())
		}
		return fmt.Errorf("%s is neither a file, a directory nor a symbolic link", p)
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, perm)
}

// injected is one file Render puts under InjectedDir.
type injected struct {
	name    string
	mode    os.FileMode
	content string
}

// Files under InjectedDir. system/ holds the configuration files of the
// new system that carry a setting; the installer copies it over the new
// root.
func injectedFiles(s Settings, ids guest.IDs) ([]injected, error) {
	systemSize, err := config.ParseSize(config.DefaultSystemDiskSize)
	if err != nil {
		return nil, err
	}
	homeSize, err := config.ParseSize(config.DefaultHomeDiskSize)
	if err != nil {
		return nil, err
	}
	system, err := guest.SystemDisk(int64(systemSize))
	if err != nil {
		return nil, err
	}
	home, err := guest.HomeDisk(int64(homeSize))
	if err != nil {
		return nil, err
	}
	packages := strings.Join(s.Packages, "\n")
	if packages != "" {
		packages += "\n"
	}
	files := []injected{
		{"settings", 0o600, s.shell(ids)},
		{"authorized_keys", 0o600, s.PublicKey + "\n"},
		{"packages", 0o600, packages},
		{"system.sfdisk", 0o600, sfdiskInput(system)},
		{"home.sfdisk", 0o600, sfdiskInput(home)},
		{"system/etc/fstab", 0o644, guest.Fstab(ids)},
		{"system/etc/kernel/cmdline", 0o644, guest.KernelCmdline(ids) + "\n"},
		{"system/etc/systemd/resolved.conf.d/virtdev.conf", 0o644, "[Resolve]\nDNS=" + strings.Join(s.DNS, " ") + "\n"},
		{"system/etc/vconsole.conf", 0o644, "KEYMAP=" + s.Keymap + "\n"},
		{"system/etc/locale.conf", 0o644, "LANG=" + s.Locale + "\n"},
	}
	if s.Script != nil {
		files = append(files, injected{"script", 0o700, string(s.Script)})
	}
	return files, nil
}

// shell is the settings file the installer sources. Every value passed
// Check, and is quoted all the same.
func (s Settings) shell(ids guest.IDs) string {
	var b strings.Builder
	b.WriteString("# shellcheck shell=bash disable=SC2034\n# Written by virtdev-iso: the values the installer applies.\n")
	for _, v := range [][2]string{
		{"VIRTDEV_TIMEZONE", s.Timezone},
		{"VIRTDEV_LOCALE", s.Locale},
		{"VIRTDEV_KEYMAP", s.Keymap},
		{"VIRTDEV_DNS", strings.Join(s.DNS, " ")},
		{"VIRTDEV_ROOT_UUID", ids.Root},
		{"VIRTDEV_ESP_SERIAL", guest.SerialNumber(ids.ESP)},
		{"VIRTDEV_XBOOTLDR_SERIAL", guest.SerialNumber(ids.XBOOTLDR)},
	} {
		fmt.Fprintf(&b, "%s=%s\n", v[0], guest.Quote(v[1]))
	}
	return b.String()
}

// sfdiskInput lays a disk out as the Debian base does, except that the last
// partition takes whatever the disk has left: the boot partitions do not
// depend on the disk's size, and the installer runs on disks of any size.
func sfdiskInput(d guest.Disk) string {
	var b strings.Builder
	b.WriteString("label: gpt\nunit: sectors\nsector-size: 512\n\n")
	for i, p := range d.Partitions {
		fmt.Fprintf(&b, "start=%d, ", p.Start/512)
		if i < len(d.Partitions)-1 {
			fmt.Fprintf(&b, "size=%d, ", p.Size/512)
		}
		fmt.Fprintf(&b, "type=%s, name=%s\n", p.Type, p.Name)
	}
	return b.String()
}

// permissions goes at the end of profiledef.sh: mkarchiso copies airootfs
// without modes, and the settings are root's alone.
const permissions = `
# Added by virtdev-iso: the injected settings are root's alone.
file_permissions+=(["` + liveInjectedDir + `/"]="0:0:700")
`

func inject(dir string, s Settings, ids guest.IDs) error {
	files, err := injectedFiles(s, ids)
	if err != nil {
		return err
	}
	root := filepath.Join(dir, InjectedDir)
	// A profile that carries a copy of earlier settings gets these instead.
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
			return err
		}
		// WriteFile leaves an existing file's mode, and the umask trims new ones.
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
	}
	def, err := os.OpenFile(filepath.Join(dir, profiledef), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := def.WriteString(permissions); err != nil {
		def.Close()
		return err
	}
	return def.Close()
}
