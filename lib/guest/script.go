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

const scriptHeader = `set -eu
fail() { echo "virtdev-bootstrap: $*" >&2; exit 1; }
`

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
	tz := Quote("/usr/share/zoneinfo/" + s.Timezone)
	fmt.Fprintf(&b, "[ -f %s ] || fail %s\n", tz,
		Quote(fmt.Sprintf("unknown time zone %q (VIRTDEV_TIMEZONE): no %s in the new system", s.Timezone, "/usr/share/zoneinfo/"+s.Timezone)))
	if s.needsLocales() {
		// locale.gen wants the name and its charset, as SUPPORTED lists them.
		fmt.Fprintf(&b, "grep -x %s /usr/share/i18n/SUPPORTED > /etc/locale.gen || fail %s\nlocale-gen\n",
			Quote(regexpQuote(s.Locale)+" .*"),
			Quote(fmt.Sprintf("unknown locale %q (VIRTDEV_LOCALE): not listed in /usr/share/i18n/SUPPORTED", s.Locale)))
	}
	writeFiles(&b, Files(s, ids))
	fmt.Fprintf(&b, "ln -sf %s /etc/localtime\n", tz)
	fmt.Fprintf(&b, "useradd --uid %d --user-group --create-home --shell /bin/bash %s\n", UID, User)
	fmt.Fprintf(&b, "install -d -m 0700 -o %[1]s -g %[1]s /home/%[1]s/.ssh\n", User)
	fmt.Fprintf(&b, "install -m 0600 -o %[1]s -g %[1]s /dev/stdin /home/%[1]s/.ssh/authorized_keys <<'%[2]s'\n%[3]s\n%[2]s\n",
		User, heredocEnd, s.PublicKey)
	b.WriteString(`ln -sf ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
systemctl enable systemd-networkd.service systemd-resolved.service ssh.service \
	virtdev-ssh-host-key.service virtdev-hostname.service serial-getty@ttyS0.service
# Nothing in the guest needs to wait for the network to boot; package
# timers and LVM snapshot scrubbing would spend the (often emulated) CPU of
# every project machine.
systemctl disable systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
	e2scrub_all.timer e2scrub_reap.service
`)
	return b.String()
}

// FinishScript runs inside the new system after VIRTDEV_SCRIPT, so that
// whatever the script did, the contract still holds.
func FinishScript() string {
	return scriptHeader + `# Every machine makes its own host keys on its first boot.
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
