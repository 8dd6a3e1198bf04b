package archiso

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"virtdev/lib/guest"
	"virtdev/lib/testhost"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq7+/== it's \"me\" $(id)"

func testSettings() Settings {
	return Settings{
		PublicKey: testKey,
		Timezone:  "Etc/GMT+3",
		Locale:    "sr_RS@latin",
		Keymap:    "de-latin1",
		DNS:       []string{"9.9.9.9", "2620:fe::fe"},
		Packages:  []string{"go", "python-requests", "lib32-glibc"},
		Script:    []byte("#!/bin/sh\nset -eu\necho 'provisioned' > /etc/virtdev-provisioned\n"),
	}
}

func render(t *testing.T, override string, s Settings) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "profile")
	if err := Render(dir, override, s); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return dir
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode()
}

// bash runs a script in bash and returns its output.
func bash(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return string(out)
}

func TestRenderEmbeddedProfile(t *testing.T) {
	dir := render(t, "", testSettings())
	for name, want := range map[string]fs.FileMode{
		"profiledef.sh":                       0o755,
		"packages.x86_64":                     0o644,
		"pacman.conf":                         0o644,
		"efiboot/loader/loader.conf":          0o644,
		"efiboot/loader/entries/virtdev.conf": 0o644,
		"airootfs/etc/systemd/system/virtdev-install.service": 0o644,
		"airootfs/usr/local/bin/virtdev-install":              0o755,
		"airootfs/usr/local/share/virtdev/packages":           0o644,
		InjectedDir:                       fs.ModeDir | 0o700,
		InjectedDir + "/settings":         0o600,
		InjectedDir + "/authorized_keys":  0o600,
		InjectedDir + "/packages":         0o600,
		InjectedDir + "/script":           0o700,
		InjectedDir + "/system.sfdisk":    0o600,
		InjectedDir + "/home.sfdisk":      0o600,
		InjectedDir + "/system/etc/fstab": 0o644,
		InjectedDir + "/system/etc/systemd/resolved.conf.d/virtdev.conf": 0o644,
	} {
		if got := mode(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s: mode %v, want %v", name, got, want)
		}
	}
	s := testSettings()
	if got := read(t, filepath.Join(dir, InjectedDir, "authorized_keys")); got != testKey+"\n" {
		t.Errorf("authorized_keys = %q", got)
	}
	if got := read(t, filepath.Join(dir, InjectedDir, "script")); got != string(s.Script) {
		t.Errorf("script = %q", got)
	}
	if got := read(t, filepath.Join(dir, InjectedDir, "packages")); got != "go\npython-requests\nlib32-glibc\n" {
		t.Errorf("packages = %q", got)
	}
	// The installer sources the settings in bash: every value comes back
	// exactly, however it is quoted.
	got := bash(t, dir, `. `+InjectedDir+`/settings && printf '%s|' "$VIRTDEV_TIMEZONE" "$VIRTDEV_LOCALE" "$VIRTDEV_KEYMAP" "$VIRTDEV_DNS"`)
	if want := "Etc/GMT+3|sr_RS@latin|de-latin1|9.9.9.9 2620:fe::fe|"; got != want {
		t.Errorf("settings read back as %q, want %q", got, want)
	}
}

func TestRenderWithoutScriptOrPackages(t *testing.T) {
	s := testSettings()
	s.Script, s.Packages = nil, nil
	dir := render(t, "", s)
	if _, err := os.Lstat(filepath.Join(dir, InjectedDir, "script")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a script was rendered without VIRTDEV_SCRIPT: %v", err)
	}
	if got := read(t, filepath.Join(dir, InjectedDir, "packages")); got != "" {
		t.Errorf("packages = %q, want empty", got)
	}
}

// mkarchiso sources profiledef.sh into an associative file_permissions;
// the settings must end up root's alone, and the installer executable.
func TestProfiledefPermissions(t *testing.T) {
	dir := render(t, "", testSettings())
	got := bash(t, dir, `declare -A file_permissions=(); . ./profiledef.sh; for f in "${!file_permissions[@]}"; do printf '%s=%s\n' "$f" "${file_permissions[$f]}"; done | sort`)
	for _, want := range []string{"/root/virtdev/=0:0:700", "/usr/local/bin/virtdev-install=0:0:755", "/root=0:0:750"} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("file_permissions lack %s:\n%s", want, got)
		}
	}
	got = bash(t, dir, `declare -A file_permissions=(); . ./profiledef.sh; printf '%s|%s|%s' "${bootmodes[*]}" "$pacman_conf" "${buildmodes[*]}"`)
	if got != "uefi.systemd-boot|pacman.conf|iso" {
		t.Errorf("profiledef.sh: bootmodes|pacman_conf|buildmodes = %q", got)
	}
}

// The disks are laid out as the Debian base's are, except that the root and
// home partitions take whatever the disks have.
func TestPartitionTables(t *testing.T) {
	dir := render(t, "", testSettings())
	system := read(t, filepath.Join(dir, InjectedDir, "system.sfdisk"))
	for _, want := range []string{
		"start=2048, size=1048576, type=" + guest.TypeESP + ", name=esp\n",
		"start=1050624, size=2097152, type=" + guest.TypeXBOOTLDR + ", name=xbootldr\n",
		"start=3147776, type=" + guest.TypeRootX64 + ", name=root\n",
	} {
		if !strings.Contains(system, want) {
			t.Errorf("system.sfdisk lacks %q:\n%s", want, system)
		}
	}
	home := read(t, filepath.Join(dir, InjectedDir, "home.sfdisk"))
	if !strings.HasSuffix(home, "\nstart=2048, type="+guest.TypeLinux+", name=home\n") {
		t.Errorf("home.sfdisk:\n%s", home)
	}
	if sfdisk, err := exec.LookPath("sfdisk"); err == nil {
		for _, tc := range []struct{ input, size string }{{system, "4G"}, {home, "100M"}} {
			img := filepath.Join(t.TempDir(), "disk")
			if err := os.WriteFile(img, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := exec.Command("truncate", "-s", tc.size, img).Run(); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(sfdisk, "--quiet", "--no-reread", "--no-tell-kernel", img)
			cmd.Stdin = strings.NewReader(tc.input)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("sfdisk refuses the layout on a %s disk: %v\n%s", tc.size, err, out)
			}
		}
	}
}

// settingsIDs reads the filesystem identifiers back from the settings.
func settingsIDs(t *testing.T, dir string) guest.IDs {
	t.Helper()
	out := bash(t, dir, `. `+InjectedDir+`/settings && printf '%s\n' "$VIRTDEV_ROOT_UUID" "$VIRTDEV_ESP_SERIAL" "$VIRTDEV_XBOOTLDR_SERIAL"`)
	f := strings.Fields(out)
	if len(f) != 3 || len(f[1]) != 8 || len(f[2]) != 8 {
		t.Fatalf("settings ids: %q", out)
	}
	return guest.IDs{Root: f[0], ESP: f[1][:4] + "-" + f[1][4:], XBOOTLDR: f[2][:4] + "-" + f[2][4:]}
}

// The installed Arch system carries the Debian base's configuration: each
// file the Debian base gets is in the profile with the same content, or
// differs for a reason named here. A file added to the Debian base fails
// this test until the Arch base has its counterpart.
func TestContractMatchesDebianBase(t *testing.T) {
	s := testSettings()
	dir := render(t, "", s)
	ids := settingsIDs(t, dir)
	static := filepath.Join(dir, "airootfs/usr/local/share/virtdev/system")
	injected := filepath.Join(dir, InjectedDir, "system")
	live := filepath.Join(dir, "airootfs")
	sshd := func(unit string) string { return strings.ReplaceAll(unit, "ssh.service", "sshd.service") }
	same := func(text string) string { return text }
	where := map[string]struct {
		path      string
		transform func(string) string
	}{
		"/etc/fstab":                                {injected + "/etc/fstab", same},
		"/etc/hostname":                             {static + "/etc/hostname", same},
		"/etc/hosts":                                {static + "/etc/hosts", same},
		"/etc/kernel/cmdline":                       {injected + "/etc/kernel/cmdline", same},
		"/etc/ssh/sshd_config.d/virtdev.conf":       {static + "/etc/ssh/sshd_config.d/virtdev.conf", same},
		"/etc/systemd/network/20-virtdev.network":   {live + "/etc/systemd/network/20-virtdev.network", same},
		"/etc/systemd/resolved.conf.d/virtdev.conf": {injected + "/etc/systemd/resolved.conf.d/virtdev.conf", same},
		"/etc/sudoers.d/dev":                        {static + "/etc/sudoers.d/dev", same},
		"/etc/vconsole.conf":                        {injected + "/etc/vconsole.conf", same},
		"/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf": {static + "/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf", same},
		// Arch's OpenSSH unit is sshd.service, Debian's ssh.service.
		"/etc/systemd/system/virtdev-ssh-host-key.service": {static + "/etc/systemd/system/virtdev-ssh-host-key.service", sshd},
		"/etc/systemd/system/virtdev-hostname.service":     {static + "/etc/systemd/system/virtdev-hostname.service", sshd},
		// Arch reads the locale from locale.conf, in the same format.
		"/etc/default/locale": {injected + "/etc/locale.conf", same},
	}
	debianOnly := map[string]string{
		"/etc/timezone": "Arch reads the zone from the /etc/localtime link alone",
		"/etc/kernel/postinst.d/zz-virtdev-loader-entry": "Arch's kernel and initramfs keep their names across updates, so the loader entry never changes",
		"/etc/kernel/postrm.d/zz-virtdev-loader-entry":   "as above",
		"/etc/systemd/system/virtdev-keymap.service":     "Arch's systemd applies /etc/vconsole.conf itself (systemd-vconsole-setup); Debian's lacks that unit",
	}
	gs := guest.Settings{Timezone: s.Timezone, Locale: s.Locale, Keymap: s.Keymap}
	for _, d := range s.DNS {
		gs.DNS = append(gs.DNS, netip.MustParseAddr(d))
	}
	for _, f := range guest.Files(gs, ids) {
		if _, ok := debianOnly[f.Path]; ok {
			continue
		}
		w, ok := where[f.Path]
		if !ok {
			t.Errorf("the Debian base gets %s; give the Arch base its counterpart or say why it has none", f.Path)
			continue
		}
		if got, want := read(t, w.path), w.transform(f.Content); got != want {
			t.Errorf("%s differs from the Debian base's %s:\n%s\nwant:\n%s", w.path, f.Path, got, want)
		}
	}
	if got := read(t, filepath.Join(dir, "airootfs/usr/local/share/virtdev/loader.conf")); got != guest.LoaderConf {
		t.Errorf("loader.conf = %q, want the Debian base's %q", got, guest.LoaderConf)
	}
	if got := mode(t, filepath.Join(static, "etc/sudoers.d/dev")); got != 0o644 {
		t.Errorf("sudoers.d/dev rendered with mode %v; the installer sets 0440", got)
	}
}

func TestDefaultPackages(t *testing.T) {
	got := DefaultPackages()
	for _, want := range []string{"linux", "openssh", "sudo", "rsync", "e2fsprogs", "base-devel", "git", "curl", "python", "nodejs", "ripgrep", "tmux"} {
		if !slices.Contains(got, want) {
			t.Errorf("the default package list lacks %s", want)
		}
	}
	// base comes first, on its own, from the installer.
	if slices.Contains(got, "base") {
		t.Error("the default list names base, which the installer installs first by itself")
	}
}

func TestParsePackages(t *testing.T) {
	got, err := ParsePackages(strings.NewReader("go  python-requests # a comment\n\n# only a comment\nlib32-glibc go\nlibc++ gtk2.0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"go", "python-requests", "lib32-glibc", "libc++", "gtk2.0"}; !slices.Equal(got, want) {
		t.Errorf("ParsePackages = %q, want %q", got, want)
	}
	for _, bad := range []string{"Go", "-overwrite", ".hidden", "foo;rm", "$(id)", "foo=1.0", "core/foo", "a'b"} {
		_, err := ParsePackages(strings.NewReader("ok\n" + bad + "\n"))
		var perr *guest.PackageError
		if !errors.As(err, &perr) || perr.Line != 2 || perr.Word != bad {
			t.Errorf("ParsePackages(%q) = %v, want an error on line 2", bad, err)
		}
	}
}

// Nothing a user sets can escape the files and scripts it lands in:
// values that could are refused before anything is written.
func TestRenderRefusesHostileValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Settings)
	}{
		{"time zone with a quote", func(s *Settings) { s.Timezone = "UTC'; reboot; '" }},
		{"time zone leaving zoneinfo", func(s *Settings) { s.Timezone = "../../../etc/shadow" }},
		{"time zone with a command", func(s *Settings) { s.Timezone = "$(reboot)" }},
		{"locale with a new line", func(s *Settings) { s.Locale = "en_US.UTF-8\nVIRTDEV_DNS=1.1.1.1" }},
		{"locale with a backquote", func(s *Settings) { s.Locale = "en_US`id`" }},
		{"keymap with a new line", func(s *Settings) { s.Keymap = "us\nFONT=x" }},
		{"keymap with a space", func(s *Settings) { s.Keymap = "us; id" }},
		{"resolver with a new line", func(s *Settings) { s.DNS = []string{"9.9.9.9\n[Resolve]"} }},
		{"resolver that is a name", func(s *Settings) { s.DNS = []string{"dns.quad9.net"} }},
		{"no resolver", func(s *Settings) { s.DNS = nil }},
		{"package that is an option", func(s *Settings) { s.Packages = []string{"--overwrite=*"} }},
		{"package with a command", func(s *Settings) { s.Packages = []string{"a$(id)"} }},
		{"key with a second line", func(s *Settings) { s.PublicKey = testKey + "\nssh-ed25519 AAAAother" }},
		{"no key", func(s *Settings) { s.PublicKey = "" }},
		{"private key", func(s *Settings) { s.PublicKey = "-----BEGIN OPENSSH PRIVATE KEY-----" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			tc.edit(&s)
			dir := filepath.Join(t.TempDir(), "profile")
			err := Render(dir, "", s)
			var serr *guest.SettingError
			var kerr *KeyError
			if !errors.As(err, &serr) && !errors.As(err, &kerr) {
				t.Fatalf("Render = %v, want a *guest.SettingError or a *KeyError", err)
			}
			if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s was created for refused settings", dir)
			}
		})
	}
}

// writeProfile makes a profile of the user's own.
func writeProfile(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRenderOverride(t *testing.T) {
	own := writeProfile(t, map[string]string{
		"profiledef.sh":          "#!/usr/bin/env bash\n# shellcheck disable=SC2034\niso_name=mine\nfile_permissions=([\"/etc/shadow\"]=\"0:0:400\")\n",
		"packages.x86_64":        "base\nlinux\n",
		"airootfs/etc/localtime": "-> /usr/share/zoneinfo/UTC",
		"airootfs/etc/systemd/system/multi-user.target.wants/sshd.service": "-> /usr/lib/systemd/system/sshd.service",
		"airootfs/root/install.sh": "#!/bin/sh\necho mine\n",
		// Settings left in a profile copied from a rendered one are replaced.
		InjectedDir + "/settings": "VIRTDEV_KEYMAP=stale\n",
		InjectedDir + "/stale":    "from an earlier render\n",
	})
	if err := os.Chmod(filepath.Join(own, "airootfs/root/install.sh"), 0o750); err != nil {
		t.Fatal(err)
	}
	dir := render(t, own, testSettings())
	if got, err := os.Readlink(filepath.Join(dir, "airootfs/etc/localtime")); err != nil || got != "/usr/share/zoneinfo/UTC" {
		t.Errorf("localtime link: %q, %v", got, err)
	}
	if got, err := os.Readlink(filepath.Join(dir, "airootfs/etc/systemd/system/multi-user.target.wants/sshd.service")); err != nil || got != "/usr/lib/systemd/system/sshd.service" {
		t.Errorf("unit link: %q, %v", got, err)
	}
	if got := mode(t, filepath.Join(dir, "airootfs/root/install.sh")); got != 0o750 {
		t.Errorf("install.sh mode %v, want 0750 as in the profile", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "airootfs/usr/local/bin/virtdev-install")); err == nil {
		t.Error("virtdev's own installer was added to a profile of one's own")
	}
	if _, err := os.Lstat(filepath.Join(dir, InjectedDir, "stale")); err == nil {
		t.Error("a file of earlier settings survived")
	}
	if got := bash(t, dir, `. `+InjectedDir+`/settings && printf %s "$VIRTDEV_KEYMAP"`); got != "de-latin1" {
		t.Errorf("VIRTDEV_KEYMAP = %q in the override's settings", got)
	}
	got := bash(t, dir, `declare -A file_permissions=(); . ./profiledef.sh; printf '%s\n' "$iso_name" "${file_permissions[/etc/shadow]}" "${file_permissions[/root/virtdev/]}"`)
	if got != "mine\n0:0:400\n0:0:700\n" {
		t.Errorf("the override's profiledef.sh reads back as %q", got)
	}
	// The user's directory is read, never written.
	if got := read(t, filepath.Join(own, InjectedDir, "settings")); got != "VIRTDEV_KEYMAP=stale\n" {
		t.Errorf("Render wrote into VIRTDEV_ISO_PROFILE: settings = %q", got)
	}
}

func TestRenderOverrideWithoutProfiledef(t *testing.T) {
	own := writeProfile(t, map[string]string{"packages.x86_64": "base\n"})
	dir := filepath.Join(t.TempDir(), "profile")
	err := Render(dir, own, testSettings())
	var perr *ProfileError
	if !errors.As(err, &perr) || !errors.Is(err, ErrNoProfiledef) || perr.Path != own {
		t.Fatalf("Render = %v, want a ProfileError for %s with ErrNoProfiledef", err, own)
	}
	if !strings.Contains(err.Error(), "VIRTDEV_ISO_PROFILE="+own) || !strings.Contains(err.Error(), "unset it") {
		t.Errorf("message names neither the variable nor the fix: %s", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Error("the destination was created")
	}
	// A missing directory is another error: the path is wrong, not the profile.
	err = Render(dir, filepath.Join(own, "nowhere"), testSettings())
	if !errors.As(err, &perr) || errors.Is(err, ErrNoProfiledef) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Render(missing directory) = %v, want a ProfileError for a missing path", err)
	}
	// profiledef.sh must be a file.
	if err := os.Mkdir(filepath.Join(own, profiledef), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Render(dir, own, testSettings()); !errors.Is(err, ErrNoProfiledef) {
		t.Errorf("Render(profiledef.sh a directory) = %v, want ErrNoProfiledef", err)
	}
}

func TestRenderRemovesDestinationOnFailure(t *testing.T) {
	own := writeProfile(t, map[string]string{"profiledef.sh": "iso_name=x\n"})
	if err := exec.Command("mkfifo", filepath.Join(own, "pipe")).Run(); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "profile")
	err := Render(dir, own, testSettings())
	var perr *ProfileError
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), "neither a file") {
		t.Fatalf("Render with a fifo = %v", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a half-rendered profile was left behind")
	}
	if err := Render(dir, "", testSettings()); err != nil {
		t.Fatal(err)
	}
	if err := Render(dir, "", testSettings()); err == nil {
		t.Error("Render wrote over an existing directory")
	}
}

// shellScripts lists the files under dir that a shell runs or sources: a
// shell #! line, or a shellcheck shell directive.
func shellScripts(t *testing.T, dir string) []string {
	t.Helper()
	var scripts []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		first, _ := bufio.NewReader(f).ReadString('\n')
		shebang := strings.HasPrefix(first, "#!") && (strings.HasSuffix(strings.TrimSpace(first), "sh") || strings.HasSuffix(strings.TrimSpace(first), "bash"))
		if shebang || strings.HasPrefix(first, "# shellcheck shell=") {
			rel, _ := filepath.Rel(dir, p)
			scripts = append(scripts, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return scripts
}

func TestShellcheck(t *testing.T) {
	shellcheck := testhost.Tool(t, "shellcheck", "shellcheck")
	dir := render(t, "", testSettings())
	scripts := shellScripts(t, dir)
	for _, want := range []string{
		"profiledef.sh",
		"airootfs/usr/local/bin/virtdev-install",
		InjectedDir + "/settings",
		InjectedDir + "/script",
		"airootfs/etc/mkinitcpio.d/linux.preset",
		"airootfs/etc/mkinitcpio.conf.d/archiso.conf",
	} {
		if !slices.Contains(scripts, want) {
			t.Errorf("%s is not recognised as a shell script (found %q)", want, scripts)
		}
	}
	for _, script := range scripts {
		// Run from the live system's root, where the installer's source
		// directive points.
		cmd := exec.Command(shellcheck, "--external-sources", "--severity=style", filepath.Join(dir, script))
		cmd.Dir = filepath.Join(dir, "airootfs")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", script, err, out.String())
		}
	}
}

// Every unit file of the profile parses: a misspelt key is ignored by
// systemd at boot, silently, but not here. The commands they run exist
// only in the guest, which is all systemd-analyze may object to.
func TestUnitsVerify(t *testing.T) {
	analyze := testhost.Tool(t, "systemd-analyze", "systemd")
	dir := render(t, "", testSettings())
	units, err := filepath.Glob(filepath.Join(dir, "airootfs/etc/systemd/system/*.service"))
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob(filepath.Join(dir, "airootfs/usr/local/share/virtdev/system/etc/systemd/system/*.service"))
	if err != nil {
		t.Fatal(err)
	}
	units = append(units, more...)
	if len(units) != 3 {
		t.Fatalf("found the units %q, want the installer's, the host key's and the hostname's", units)
	}
	for _, unit := range units {
		out, _ := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" && !strings.Contains(line, "is not executable") {
				t.Errorf("%s: %s", filepath.Base(unit), line)
			}
		}
	}
}
