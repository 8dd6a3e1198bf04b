package guest

import (
	"fmt"
	"strings"
)

// Quote makes s one word for the POSIX shell.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// heredocEnd ends the here-documents that carry file contents; rendered
// content never contains it on a line of its own because every value pasted
// into a file is checked by Settings.Check or ParsePublicKey first.
const heredocEnd = "VIRTDEV_FILE_END"

func writeFiles(b *strings.Builder, files []File) {
	for _, f := range files {
		fmt.Fprintf(b, "install -D -m %04o /dev/stdin %s <<'%s'\n%s%s\n",
			f.Mode, Quote(f.Path), heredocEnd, f.Content, heredocEnd)
	}
}

// settingRefused starts the line with which a script inside the new system
// refuses a setting, so that the build can tell a bad setting from a failed
// installation.
const settingRefused = "virtdev-bootstrap: setting refused: "

const scriptHeader = `set -eu
fail() { echo "virtdev-bootstrap: $*" >&2; exit 1; }
refuse() { echo "` + settingRefused + `$*" >&2; exit 1; }
`

// refusal is the shell command that refuses a setting from inside the new
// system, with the message SettingError gives on the host.
func refusal(variable, value, want string) string {
	return "refuse " + Quote((&SettingError{variable, value, want}).Error())
}

// EssentialScript runs inside the new system once Debian's essential
// packages are in, before the rest are installed.
func EssentialScript() string {
	var b strings.Builder
	b.WriteString(scriptHeader)
	writeFiles(&b, EssentialFiles())
	return b.String()
}

// SetupScript runs inside the new system once every package is installed:
// it writes the contract's files, creates dev and enables the services.
func SetupScript(s Settings, ids IDs) string {
	var b strings.Builder
	b.WriteString(scriptHeader)
	zone := "/usr/share/zoneinfo/" + s.Timezone
	fmt.Fprintf(&b, "[ -f %s ] || %s\n", Quote(zone), refusal("VIRTDEV_TIMEZONE", s.Timezone, "the new system has no "+zone))
	if s.needsLocales() {
		// locale.gen wants the name and its charset, as SUPPORTED lists them.
		fmt.Fprintf(&b, "grep -x %s /usr/share/i18n/SUPPORTED > /etc/locale.gen || %s\nlocale-gen\n",
			Quote(regexpQuote(s.Locale)+" .*"),
			refusal("VIRTDEV_LOCALE", s.Locale, "the new system's /usr/share/i18n/SUPPORTED does not list it"))
	}
	b.WriteString(keymapScript(s.Keymap))
	writeFiles(&b, Files(s, ids))
	for _, l := range toolLinks {
		fmt.Fprintf(&b, "ln -sf %s %s\n", l.target, l.link)
	}
	fmt.Fprintf(&b, "ln -sf %s /etc/localtime\n", Quote(zone))
	fmt.Fprintf(&b, "useradd --uid %d --user-group --create-home --shell /bin/bash %s\n", UID, User)
	fmt.Fprintf(&b, "install -d -m 0700 -o %[1]s -g %[1]s /home/%[1]s/.ssh\n", User)
	fmt.Fprintf(&b, "install -m 0600 -o %[1]s -g %[1]s /dev/stdin /home/%[1]s/.ssh/authorized_keys <<'%[2]s'\n%[3]s\n%[2]s\n",
		User, heredocEnd, s.PublicKey)
	b.WriteString(`ln -sf ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
systemctl enable systemd-networkd.service systemd-resolved.service ssh.service \
	virtdev-ssh-host-key.service virtdev-hostname.service ` + keymapService + ` serial-getty@ttyS0.service
# Nothing in the guest needs to wait for the network to boot; package
# timers and LVM snapshot scrubbing would spend the (often emulated) CPU of
# every project machine.
systemctl disable systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
	e2scrub_all.timer e2scrub_reap.service
`)
	return b.String()
}

// keymapScript finds the console keymap VIRTDEV_KEYMAP names and writes it
// to /etc/vconsole.conf. The name is a console keymap as kbd names it, or
// an X11 layout as Debian hosts' /etc/default/keyboard does; for the
// latter, systemd's own table names the console keymap localectl would
// choose. The keymap files are looked up as loadkeys looks them up, but
// not with loadkeys, which wants a console even to parse a keymap, and a
// build has none.
func keymapScript(keymap string) string {
	return fmt.Sprintf(`has_keymap() {
	[ -n "$(find %[1]s -type f \( -name "$1.kmap*" -o -name "$1.map*" \) -print -quit)" ]
}
keymap=%[2]s
if ! has_keymap "$keymap"; then
	keymap=$(awk -v layout="$keymap" '$1 !~ /^#/ && $2 == layout && $4 == "-" { print $1; exit }' %[3]s)
	[ -n "$keymap" ] && has_keymap "$keymap" || %[4]s
fi
printf 'KEYMAP=%%s\n' "$keymap" > %[5]s
`, keymapDir, Quote(keymap), kbdModelMap, refusal("VIRTDEV_KEYMAP", keymap,
		"the new system has no such console keymap in "+keymapDir+", nor an X11 layout of that name in "+kbdModelMap), vconsoleConf)
}

// FinishScript runs inside the new system after VIRTDEV_SCRIPT, so that
// whatever the script did, the contract still holds.
func FinishScript() string {
	return scriptHeader + `# No host key in the base: every machine is handed its own at boot.
rm -f /etc/ssh/ssh_host_*
# Lock every password, including any the script may have set.
for user in $(awk -F: '$2 !~ /^[!*]/ { print $1 }' /etc/shadow) root ` + User + `; do
	usermod --lock "$user"
done
` + loaderEntryHook + `
[ -f /boot/loader/entries/virtdev.conf ] || fail "no kernel and initrd in /boot to boot"
apt-get clean
`
}

// regexpQuote escapes the characters grep's basic regular expressions give a
// meaning to; locale names only ever carry dots among them.
func regexpQuote(s string) string {
	return strings.ReplaceAll(s, ".", `\.`)
}
