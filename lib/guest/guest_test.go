package guest

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Nothing of the machine running the tests decides them: the host's list
// of locales is the tests' to give.
func TestMain(m *testing.M) {
	hostLocales = "/nonexistent/SUPPORTED"
	os.Exit(m.Run())
}

func validSettings() Settings {
	return Settings{
		Suite:     DefaultSuite,
		PublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq7 virtdev",
		Timezone:  "Europe/Berlin",
		Locale:    "de_DE.UTF-8",
		Keymap:    "de-latin1",
		DNS:       []netip.Addr{netip.MustParseAddr("9.9.9.9"), netip.MustParseAddr("2620:fe::fe")},
	}
}

var testIDs = IDs{Root: "0f3c0c67-58c4-4bd8-9b2c-6b3b0d3f6d11", ESP: "1A2B-3C4D", XBOOTLDR: "5E6F-7A8B"}

func TestCheckAcceptsValidSettings(t *testing.T) {
	if err := validSettings().Check(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckRefusesUnsafeValues(t *testing.T) {
	for _, tc := range []struct {
		variable string
		change   func(*Settings)
	}{
		{"--suite", func(s *Settings) { s.Suite = "Bookworm; rm" }},
		{"--mirror", func(s *Settings) { s.Mirror = "http://x\nhttp://y" }},
		{"VIRTDEV_TIMEZONE", func(s *Settings) { s.Timezone = "../../etc/passwd" }},
		{"VIRTDEV_TIMEZONE", func(s *Settings) { s.Timezone = "Europe/$(reboot)" }},
		{"VIRTDEV_LOCALE", func(s *Settings) { s.Locale = "en US" }},
		{"VIRTDEV_KEYMAP", func(s *Settings) { s.Keymap = "us\nKEYMAP=de" }},
		{"VIRTDEV_PACKAGES", func(s *Settings) { s.Packages = []string{"Vim"} }},
	} {
		s := validSettings()
		tc.change(&s)
		var serr *SettingError
		if err := s.Check(); !errors.As(err, &serr) || serr.Variable != tc.variable {
			t.Errorf("%+v: got %v, want a refusal of %s", s, err, tc.variable)
		}
	}
}

func TestParsePackages(t *testing.T) {
	got, err := ParsePackages(strings.NewReader("# tools\nvim git  # editors\n\n\tripgrep\ngit\nlibc6:amd64 linux-image-amd64=6.1 foo/bookworm-backports\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"vim", "git", "ripgrep", "libc6:amd64", "linux-image-amd64=6.1", "foo/bookworm-backports"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParsePackagesNamesTheBadLine(t *testing.T) {
	_, err := ParsePackages(strings.NewReader("vim\n# fine\ngit $(reboot)\n"))
	var perr *PackageError
	if !errors.As(err, &perr) || perr.Line != 3 || perr.Word != "$(reboot)" {
		t.Fatalf("got %v, want line 3 and the bad word", err)
	}
}

func TestAllPackages(t *testing.T) {
	s := validSettings()
	s.Packages = []string{"emacs-nox", "sudo", "git"}
	all := s.AllPackages()
	for _, want := range []string{"linux-image-amd64", "openssh-server", "dbus", "systemd-resolved", "systemd-boot-efi",
		"kbd", "console-data", "locales", "build-essential", "git", "curl", "python3-venv", "nodejs", "ripgrep", "tmux",
		"exa", "emacs-nox"} {
		if !slices.Contains(all, want) {
			t.Errorf("%q lacks %s", all, want)
		}
	}
	for _, p := range []string{"sudo", "git", "rsync"} {
		if n := count(all, p); n != 1 {
			t.Errorf("%q lists %s %d times, want once", all, p, n)
		}
	}
	// What VIRTDEV_PACKAGES adds comes last, in its order.
	if got := all[len(all)-1]; got != "emacs-nox" {
		t.Errorf("last package %q, want the added emacs-nox", got)
	}
	s.Locale = "C.UTF-8"
	if slices.Contains(s.AllPackages(), "locales") {
		t.Error("C.UTF-8 is built into libc and needs no locales package")
	}
}

func count(list []string, item string) int {
	n := 0
	for _, x := range list {
		if x == item {
			n++
		}
	}
	return n
}

// Releases after bookworm have the tools bookworm lacks, and no longer
// have exa.
func TestToolsetFollowsTheSuite(t *testing.T) {
	bookworm := ToolsetPackages("bookworm")
	for _, suite := range []string{"trixie", "sid", "testing"} {
		later := ToolsetPackages(suite)
		for _, want := range []string{"eza", "tokei", "rustup", "git", "build-essential"} {
			if !slices.Contains(later, want) {
				t.Errorf("%s lacks %s", suite, want)
			}
			if slices.Contains(bookworm, want) != (want == "git" || want == "build-essential") {
				t.Errorf("bookworm has %s: %v", want, slices.Contains(bookworm, want))
			}
		}
		if slices.Contains(later, "exa") {
			t.Errorf("%s is given exa, which it does not have", suite)
		}
	}
	if !slices.Contains(bookworm, "exa") {
		t.Error("bookworm lacks exa, the nearest to eza")
	}
}

// Every package of the seed's list stands in the toolset, and each that
// bookworm lacks says what to do instead.
func TestToolsetCoversTheSeed(t *testing.T) {
	seed := strings.Fields(`base-devel git openssh vim less man-db man-pages curl wget which tree unzip zip htop
		rsync socat kitty-terminfo foot-terminfo rxvt-unicode-terminfo ghostty-terminfo ripgrep fd fzf bat jq eza
		tmux strace gdb lsof inetutils openbsd-netcat entr diffutils patch bash-completion shellcheck time
		github-cli ncdu hyperfine 7zip tokei direnv python python-pip python-virtualenv nodejs npm rustup`)
	have := map[string]DevTool{}
	for _, tool := range Toolset {
		have[tool.Seed] = tool
	}
	for _, name := range seed {
		tool, ok := have[name]
		if !ok {
			t.Errorf("the toolset has nothing for the seed's %s", name)
			continue
		}
		if len(tool.Packages) == 0 && !strings.Contains(tool.Note, "virtdev(7)") {
			t.Errorf("%s: bookworm has no package for it, and the note does not point to virtdev(7): %q", name, tool.Note)
		}
	}
	for _, tool := range Toolset {
		for _, p := range append(append([]string{}, tool.Packages...), tool.Trixie...) {
			if !packagePattern().MatchString(p) {
				t.Errorf("%s: %q is not a package name", tool.Seed, p)
			}
		}
	}
}

func TestToolsetTable(t *testing.T) {
	table := ToolsetTable()
	for _, line := range strings.Split(table, "\n") {
		if len(line) > 79 {
			t.Errorf("line longer than 79 columns: %q", line)
		}
	}
	for _, want := range []string{
		"\n  base-devel             build-essential ",
		"\n  python-virtualenv      virtualenv python3-venv\n",
		"\n  rustup                 -\n",
		"\n  eza                    exa\n",
		"VIRTDEV_PACKAGES adds to the list",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestSystemDiskLayout(t *testing.T) {
	d, err := SystemDisk(24 << 30)
	if err != nil {
		t.Fatal(err)
	}
	p := d.Partitions
	if len(p) != 3 || p[0].Type != TypeESP || p[1].Type != TypeXBOOTLDR || p[2].Type != TypeRootX64 {
		t.Fatalf("partitions %+v", p)
	}
	if p[0].Start != 1<<20 || p[0].Size != 512<<20 || p[1].Size != 1024<<20 {
		t.Errorf("boot partitions %+v, want 512 MiB ESP at 1 MiB and 1 GiB XBOOTLDR", p[:2])
	}
	for i := 1; i < 3; i++ {
		if p[i].Start != p[i-1].Start+p[i-1].Size {
			t.Errorf("partition %d does not follow %d", i, i-1)
		}
	}
	if end := p[2].Start + p[2].Size; end != d.Size-1<<20 {
		t.Errorf("root ends at %d, want 1 MiB before the end (%d) for the backup GPT", end, d.Size)
	}
	if _, err := SystemDisk(3 << 30); err == nil {
		t.Error("a 3 GiB system disk has no room for root and was accepted")
	}
}

func TestHomeDiskLayout(t *testing.T) {
	d, err := HomeDisk(48 << 30)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Partitions) != 1 || d.Partitions[0].Start != 1<<20 || d.Partitions[0].Size != 48<<30-2<<20 {
		t.Errorf("home partitions %+v", d.Partitions)
	}
	if _, err := HomeDisk(32 << 20); err == nil {
		t.Error("a 32 MiB home disk was accepted")
	}
}

func TestSfdiskScript(t *testing.T) {
	d, _ := SystemDisk(24 << 30)
	got := d.SfdiskScript()
	for _, want := range []string{
		"label: gpt\n",
		"start=2048, size=1048576, type=" + TypeESP + ", name=esp\n",
		"start=1050624, size=2097152, type=" + TypeXBOOTLDR + ", name=xbootldr\n",
		"start=3147776, size=" + strconv.FormatInt((24<<30-1537<<20-1<<20)/512, 10) + ", type=" + TypeRootX64 + ", name=root\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("sfdisk script lacks %q:\n%s", want, got)
		}
	}
	if path, err := exec.LookPath("sfdisk"); err == nil {
		img := filepath.Join(t.TempDir(), "disk")
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Truncate(img, d.Size)
		cmd := exec.Command(path, "--quiet", "--no-reread", "--no-tell-kernel", img)
		cmd.Stdin = strings.NewReader(got)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sfdisk refused the script: %v\n%s", err, out)
		}
	}
}

func TestFstabAndCommandLine(t *testing.T) {
	fstab := Fstab(testIDs)
	for _, want := range []string{
		"UUID=" + testIDs.Root + " / ext4 ",
		"LABEL=home /home ext4 ",
		"UUID=1A2B-3C4D /efi vfat ",
		"UUID=5E6F-7A8B /boot vfat ",
	} {
		if !strings.Contains(fstab, want) {
			t.Errorf("fstab lacks %q:\n%s", want, fstab)
		}
	}
	cmdline := KernelCmdline(testIDs)
	if !strings.Contains(cmdline, "root=UUID="+testIDs.Root) || !strings.HasSuffix(cmdline, "console=ttyS0,115200") {
		t.Errorf("command line %q: want the root UUID and the serial console last", cmdline)
	}
	if !strings.Contains(LoaderConf, "default virtdev.conf") || !strings.Contains(LoaderConf, "timeout 0") {
		t.Errorf("loader.conf %q", LoaderConf)
	}
}

func TestNewIDs(t *testing.T) {
	a, err := NewIDs()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewIDs()
	if a == b {
		t.Error("two draws gave the same identifiers")
	}
	if len(a.Root) != 36 || a.Root[14] != '4' || len(a.ESP) != 9 || a.ESP[4] != '-' {
		t.Errorf("malformed identifiers %+v", a)
	}
	if SerialNumber(a.ESP) != strings.ReplaceAll(a.ESP, "-", "") || len(SerialNumber(a.ESP)) != 8 {
		t.Errorf("serial %q", SerialNumber(a.ESP))
	}
}

// The loader entry hook is run for real against a fake /boot.
func TestLoaderEntryScript(t *testing.T) {
	dir := t.TempDir()
	boot := filepath.Join(dir, "boot")
	os.MkdirAll(boot, 0o755)
	touch := func(names ...string) {
		for _, f := range names {
			os.WriteFile(filepath.Join(boot, f), nil, 0o644)
		}
	}
	os.WriteFile(filepath.Join(dir, "cmdline"), []byte(KernelCmdline(testIDs)+"\n"), 0o644)
	script := strings.ReplaceAll(loaderEntryScript, "/boot", boot)
	script = strings.ReplaceAll(script, kernelCmdline, filepath.Join(dir, "cmdline"))
	entryPath := filepath.Join(boot, "loader", "entries", "virtdev.conf")
	run := func() string {
		t.Helper()
		if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		entry, err := os.ReadFile(entryPath)
		if err != nil {
			t.Fatal(err)
		}
		return string(entry)
	}

	touch("vmlinuz-6.1.0-9-amd64", "initrd.img-6.1.0-9-amd64", "vmlinuz-6.1.0-10-amd64", "initrd.img-6.1.0-10-amd64")
	entry := run()
	// 6.1.0-10 sorts after 6.1.0-9 as a version, not as text.
	for _, want := range []string{
		"linux   /vmlinuz-6.1.0-10-amd64\n",
		"initrd  /initrd.img-6.1.0-10-amd64\n",
		"options " + KernelCmdline(testIDs) + "\n",
	} {
		if !strings.Contains(entry, want) {
			t.Errorf("entry lacks %q:\n%s", want, entry)
		}
	}
	// A kernel whose initrd is not made yet does not replace a bootable entry.
	touch("vmlinuz-6.2.0-1-amd64")
	if again := run(); again != entry {
		t.Errorf("entry changed to a kernel without initrd:\n%s", again)
	}
}

func TestFiles(t *testing.T) {
	files := map[string]File{}
	for _, f := range Files(validSettings(), testIDs) {
		files[f.Path] = f
	}
	expect := map[string][]string{
		"/etc/ssh/sshd_config.d/virtdev.conf":          {"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin no", "AuthenticationMethods publickey", "HostKey /run/virtdev/ssh_host_ed25519_key"},
		"/etc/systemd/resolved.conf.d/virtdev.conf":    {"DNS=9.9.9.9 2620:fe::fe"},
		"/etc/systemd/network/20-virtdev.network":      {"DHCP=yes", "UseDNS=no"},
		"/etc/systemd/system/virtdev-hostname.service": {"opt/virtdev/project/raw", "modprobe -q qemu_fw_cfg", "Before=sysinit.target network-pre.target", "$$f"},
		// The key virtdev hands the machine, or no sshd at all.
		"/etc/systemd/system/virtdev-ssh-host-key.service": {"(umask 077 && cat /sys/firmware/qemu_fw_cfg/by_name/opt/virtdev/ssh_host_ed25519_key/raw > /run/virtdev/ssh_host_ed25519_key)", "install -d -m 0755 /run/virtdev", "ssh-keygen -y", "Before=ssh.service", "RequiredBy=ssh.service"},
		"/etc/sudoers.d/dev": {"dev ALL=(ALL:ALL) NOPASSWD: ALL"},
		"/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf": {"--autologin dev"},
		"/etc/default/locale": {"LANG=de_DE.UTF-8"},
		"/etc/timezone":       {"Europe/Berlin"},
		"/etc/fstab":          {"LABEL=home"},
		"/etc/systemd/system/virtdev-keymap.service": {"EnvironmentFile=/etc/vconsole.conf", "ExecStart=/bin/loadkeys -q -C /dev/tty1 $KEYMAP", "Before=getty-pre.target", "WantedBy=multi-user.target"},
	}
	for path, wants := range expect {
		f, ok := files[path]
		if !ok {
			t.Errorf("no %s", path)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(f.Content, w) {
				t.Errorf("%s lacks %q:\n%s", path, w, f.Content)
			}
		}
	}
	if files["/etc/sudoers.d/dev"].Mode != 0o440 {
		t.Errorf("sudoers mode %o, want 440", files["/etc/sudoers.d/dev"].Mode)
	}
	if files[loaderEntryHook].Mode&0o111 == 0 {
		t.Error("the kernel hook is not executable")
	}
}

func TestScriptsAreValidShell(t *testing.T) {
	system, _ := SystemDisk(24 << 30)
	home, _ := HomeDisk(48 << 30)
	tools := map[string]string{}
	for _, tool := range Tools {
		tools[tool.Name] = "/usr/sbin/" + tool.Name
	}
	scripts := map[string]string{
		"essential": EssentialScript(),
		"setup":     SetupScript(validSettings(), testIDs),
		"user":      UserScriptHook(),
		"finish":    FinishScript(),
		"assemble":  AssembleScript(tools, testIDs, system, home),
	}
	for name, script := range scripts {
		if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("%s script: %v\n%s\n%s", name, err, out, script)
		}
	}
	setup := scripts["setup"]
	for _, want := range []string{
		"useradd --uid 1000 --user-group --create-home --shell /bin/bash dev",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq7 virtdev\n",
		"grep -x 'de_DE\\.UTF-8 .*' /usr/share/i18n/SUPPORTED",
		"ln -sf '/usr/share/zoneinfo/Europe/Berlin' /etc/localtime",
		"systemctl enable systemd-networkd.service systemd-resolved.service ssh.service",
		"systemctl disable systemd-networkd-wait-online.service",
		"virtdev-hostname.service virtdev-keymap.service serial-getty@ttyS0.service",
		"keymap='de-latin1'\n",
		"ln -sf /usr/bin/fdfind /usr/local/bin/fd\n",
		"ln -sf /usr/bin/batcat /usr/local/bin/bat\n",
	} {
		if !strings.Contains(setup, want) {
			t.Errorf("setup script lacks %q", want)
		}
	}
	if !strings.Contains(scripts["finish"], "rm -f /etc/ssh/ssh_host_*") {
		t.Error("the finish script keeps the package's host keys")
	}
	assemble := scripts["assemble"]
	for _, want := range []string{"-L home", "-U " + testIDs.Root, "-E offset=1611661312", "-n ESP -i 1A2B3C4D", "-n XBOOTLDR -i 5E6F7A8B", "EFI/BOOT/BOOTX64.EFI"} {
		if !strings.Contains(assemble, want) {
			t.Errorf("assemble script lacks %q", want)
		}
	}
}

// Files are carried in here-documents; the script must reproduce them
// byte for byte, whatever their content.
func TestEssentialScriptWritesFilesExactly(t *testing.T) {
	var b strings.Builder
	dir := t.TempDir()
	files := []File{{filepath.Join(dir, "a/b"), 0o640, "x='$HOME' `id` \\n\n"}}
	writeFiles(&b, files)
	if out, err := exec.Command("sh", "-eu", "-c", b.String()).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got, err := os.ReadFile(files[0].Path)
	if err != nil || string(got) != files[0].Content {
		t.Errorf("wrote %q (%v), want %q", got, err, files[0].Content)
	}
	if info, _ := os.Stat(files[0].Path); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %o", info.Mode().Perm())
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"plain", "it's", "$(reboot) `id` \"q\"", ""} {
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("Quote(%q) came back as %q (%v)", s, out, err)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	good := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKq7+/== dev@host\n"
	if key, err := ParsePublicKey([]byte(good)); err != nil || key != strings.TrimSpace(good) {
		t.Errorf("ParsePublicKey(good) = %q, %v", key, err)
	}
	for _, bad := range []string{"", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", "ssh-ed25519 AAAA\nssh-rsa BBBB", "ssh-ed25519", "hello world"} {
		if _, err := ParsePublicKey([]byte(bad)); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded", bad)
		}
	}
}

func TestCheckSubordinateIDs(t *testing.T) {
	dir := t.TempDir()
	subuid := filepath.Join(dir, "subuid")
	subgid := filepath.Join(dir, "subgid")
	os.WriteFile(subuid, []byte("alice:100000:65536\n1001:200000:65536\n"), 0o644)
	os.WriteFile(subgid, []byte("alice:100000:65536\nbob:200000:1000\n"), 0o644)
	if got := freeRange(subuid, subgid); got != 265536 {
		t.Errorf("free range starts at %d, want 265536", got)
	}
	if err := CheckSubordinateIDs("alice", 1000, subuid, subgid); err != nil {
		t.Errorf("alice: %v", err)
	}
	err := CheckSubordinateIDs("bob", 1001, subuid, subgid)
	var serr *SubordinateIDsError
	if !errors.As(err, &serr) || len(serr.Files) != 1 || serr.Files[0] != subgid {
		t.Fatalf("bob (uid range, too small gid range): got %v, want %s named", err, subgid)
	}
	// alice holds 100000-165535 and uid 1001 200000-265535: the first free
	// block that fits starts after the latter.
	if msg := err.Error(); !strings.Contains(msg, "usermod --add-subuids 265536-331071 --add-subgids 265536-331071 bob") {
		t.Errorf("message lacks the fix: %s", msg)
	}
	if err := CheckSubordinateIDs("carol", 1002, filepath.Join(dir, "none"), subgid); !errors.As(err, &serr) || len(serr.Files) != 2 {
		t.Errorf("carol: got %v, want both files named", err)
	}
}

func TestLineWatch(t *testing.T) {
	var out strings.Builder
	w := &lineWatch{w: &out, prefix: scriptFailedMsg}
	w.Write([]byte("I: running hook\nvirtdev-bootstrap: VIRTDEV_SCRIPT fa"))
	if w.seen {
		t.Fatal("seen before the line ended")
	}
	w.Write([]byte("iled with status 3\nmore\n"))
	if !w.seen || !strings.Contains(out.String(), "status 3") {
		t.Errorf("seen=%v, output %q", w.seen, out.String())
	}
	w2 := &lineWatch{w: &out, prefix: scriptFailedMsg}
	w2.Write([]byte("echo " + scriptFailedMsg + "\n"))
	if w2.seen {
		t.Error("a line merely containing the message counted")
	}
}

func TestReachable(t *testing.T) {
	dir := t.TempDir()
	inner := filepath.Join(dir, "a", "b")
	os.MkdirAll(inner, 0o755)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := reachable(inner); err != nil && !strings.Contains(err.Error(), "not searchable") {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "a"), 0o750)
	defer os.Chmod(filepath.Join(dir, "a"), 0o755)
	err := reachable(inner)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "a")+" is not searchable by others") {
		t.Errorf("got %v, want %s named", err, filepath.Join(dir, "a"))
	}
}

// The host's list of locales refuses, before the long build, a locale Debian
// cannot generate; without the list, the guest's decides later.
func TestCheckRefusesLocalesTheHostLacks(t *testing.T) {
	list := filepath.Join(t.TempDir(), "SUPPORTED")
	os.WriteFile(list, []byte("de_DE.UTF-8 UTF-8\nde_DE ISO-8859-1\nen_US.UTF-8 UTF-8\n"), 0o644)
	defer func(old string) { hostLocales = old }(hostLocales)
	hostLocales = list
	for locale, ok := range map[string]bool{
		"de_DE.UTF-8": true, "de_DE": true, "C.UTF-8": true, "POSIX": true,
		"xx_YY.UTF-8": false, "de_DE.utf8": false, "de_DE.UTF": false, "en_US.UTF-8@x": false,
	} {
		s := validSettings()
		s.Locale = locale
		err := s.Check()
		var serr *SettingError
		switch {
		case ok && err != nil:
			t.Errorf("%s: %v", locale, err)
		case !ok && (!errors.As(err, &serr) || serr.Variable != "VIRTDEV_LOCALE"):
			t.Errorf("%s: got %v, want VIRTDEV_LOCALE refused", locale, err)
		case !ok && !strings.Contains(err.Error(), list):
			t.Errorf("%s: the message does not name the list: %v", locale, err)
		}
	}
	hostLocales = filepath.Join(t.TempDir(), "none")
	s := validSettings()
	s.Locale = "xx_YY.UTF-8"
	if err := s.Check(); err != nil {
		t.Errorf("without a host list: %v, want the guest's list to decide", err)
	}
}

// The keymap part of the setup script runs for real, against a few keymap
// files and a copy of systemd's table.
func TestKeymapScript(t *testing.T) {
	dir := t.TempDir()
	keymaps := filepath.Join(dir, "keymaps")
	for _, f := range []string{"i386/qwerty/us.kmap.gz", "i386/qwertz/de-latin1.kmap.gz", "i386/qwerty/uk.kmap.gz", "include/qwerty-layout.inc"} {
		os.MkdirAll(filepath.Join(keymaps, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(keymaps, f), nil, 0o644)
	}
	table := filepath.Join(dir, "kbd-model-map")
	os.WriteFile(table, []byte("# consolelayout\txlayout\txmodel\txvariant\txoptions\n"+
		"sg\t\tch\tpc105\t\tde_nodeadkeys\tterminate:ctrl_alt_bksp\n"+
		"uk\t\tgb\tpc105\t\t-\tterminate:ctrl_alt_bksp\n"+
		"zz\t\tzz\tpc105\t\t-\t-\n"), 0o644)
	vconsole := filepath.Join(dir, "vconsole.conf")
	for keymap, want := range map[string]string{
		"de-latin1":     "KEYMAP=de-latin1\n", // a console keymap
		"gb":            "KEYMAP=uk\n",        // an X11 layout, and its console keymap
		"ch":            "",                   // a layout whose keymap needs a variant
		"zz":            "",                   // in the table, but no such keymap
		"qq":            "",                   // neither
		"qwerty":        "",                   // a directory, not a keymap
		"qwerty-layout": "",                   // an include file, not a keymap
	} {
		os.Remove(vconsole)
		script := scriptHeader + keymapScript(keymap)
		script = strings.ReplaceAll(script, kbdModelMap, table)
		script = strings.ReplaceAll(script, vconsoleConf, vconsole)
		script = strings.ReplaceAll(script, keymapDir, keymaps)
		cmd := exec.Command("sh", "-c", script)
		var out strings.Builder
		watch := &lineWatch{w: &out, prefix: settingRefused}
		cmd.Stdout, cmd.Stderr = watch, watch
		err := cmd.Run()
		got, _ := os.ReadFile(vconsole)
		if want != "" {
			if err != nil || string(got) != want {
				t.Errorf("%s: %v, vconsole.conf %q; want %q\n%s", keymap, err, got, want, out.String())
			}
			continue
		}
		if err == nil || len(got) != 0 || !watch.seen {
			t.Errorf("%s: %v, vconsole.conf %q, refusal seen %v; want it refused\n%s", keymap, err, got, watch.seen, out.String())
		}
		if want := `VIRTDEV_KEYMAP="` + keymap + `" is not valid: `; !strings.HasPrefix(watch.rest, want) {
			t.Errorf("%s: refusal %q, want it to start with %q", keymap, watch.rest, want)
		}
	}
}

// A refusal inside the new system reaches the build as the setting's own
// message, however the output is split.
func TestRefusalIsWatched(t *testing.T) {
	script := scriptHeader + "echo installing\n" + refusal("VIRTDEV_TIMEZONE", "Mars/Olympus", "the new system has no /usr/share/zoneinfo/Mars/Olympus") + "\necho unreachable\n"
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err == nil || strings.Contains(string(out), "unreachable") {
		t.Fatalf("the refusal did not stop the script: %v\n%s", err, out)
	}
	var log strings.Builder
	watch := &lineWatch{w: &log, prefix: settingRefused}
	for _, c := range out {
		watch.Write([]byte{c})
	}
	want := `VIRTDEV_TIMEZONE="Mars/Olympus" is not valid: the new system has no /usr/share/zoneinfo/Mars/Olympus`
	if !watch.seen || watch.rest != want || log.String() != string(out) {
		t.Errorf("seen %v, rest %q, passed through %q; want %q and all the output", watch.seen, watch.rest, log.String(), want)
	}
}
