package maintain

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"virtdev/lib/guest"
	"virtdev/lib/qemu"
)

// The seal: what the maintenance machine does as it powers off, so that the
// base it leaves holds nothing of this one machine.
//
// At the start of a session virtdev-maintain installs, over SSH, a unit in
// the guest whose stop runs the seal script. systemd stops it at the
// poweroff that ends the session, while the file systems are still
// mounted: the script takes the inventory after the session (when asked
// to), removes the guest's SSH host keys and puts the machine id back as
// the base had it, so that every machine made from the new base makes its
// own; then it removes itself and its unit, syncs, and says so through the
// machine's report port (qemu.ReportPort), a virtio serial port whose
// output QEMU writes to a file in the staging directory. The host reseals
// only when that file ends with the seal's word, with the session's nonce:
// a poweroff the seal did not finish leaves a base that still carries this
// machine's keys, and is refused.
//
// A reboot during the session leaves the unit in place (it is enabled), so
// the seal runs at the poweroff that follows. Everything of the seal lives
// under sealDir and the unit's files, which the seal removes; the staging
// copy of a session that does not end in a sealed poweroff is never
// resealed, whatever it holds.
const (
	sealDir  = "/var/lib/virtdev-maintenance"
	sealUnit = "virtdev-maintenance-seal.service"
	// reportWord starts every line the seal writes to the report port.
	reportWord = "virtdev-maintenance"
)

// inventoryPath is where the inventory hook is kept in the guest, so that
// the seal runs the same file after the session.
const inventoryPath = sealDir + "/inventory"

// runInventory runs the inventory hook as root in a fixed environment, the
// same before the session (over SSH) and after it (from the seal), so that
// only what changed in the system shows in the difference.
const runInventory = `#!/bin/sh
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 ` + inventoryPath + `
`

// sealScript is the seal; %[1]s is the session's nonce.
const sealScript = `#!/bin/sh
# Written by virtdev-maintain: seals the maintained system as it powers off.
port=/dev/virtio-ports/` + qemu.ReportPort + `
say() { printf '` + reportWord + ` %[1]s %%s\n' "$*" >"$port"; }

# Only the poweroff ends the session; across a reboot the seal waits.
if systemctl list-jobs --no-legend 2>/dev/null | grep -Eq '(reboot|kexec|soft-reboot)\.target'; then
	exit 0
fi
if [ -e ` + inventoryPath + ` ]; then
	say inventory-begin
	status=0
	` + sealDir + `/run-inventory >"$port" || status=$?
	say "inventory-end $status"
fi
rm -f /etc/ssh/ssh_host_*
cat ` + sealDir + `/machine-id >/etc/machine-id
rm -f /etc/systemd/system/multi-user.target.wants/` + sealUnit + ` /etc/systemd/system/` + sealUnit + `
rm -rf ` + sealDir + `
sync
say sealed
`

// sealText is the seal of the session with nonce.
func sealText(nonce string) string { return fmt.Sprintf(sealScript, nonce) }

// sealUnitFile is the seal's unit: ordered after the file systems the seal
// needs, it is stopped before they are unmounted.
const sealUnitFile = `[Unit]
Description=Seal the maintained base as it powers off (virtdev-maintain)
After=local-fs.target
RequiresMountsFor=/var/lib /home

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecStop=` + sealDir + `/seal
TimeoutStopSec=15min

[Install]
WantedBy=multi-user.target
`

// armScript installs the seal; it runs as root through sudo sh -s. The
// machine id is recorded as the base had it: "uninitialized" when this boot
// was the machine's first by that rule (systemd then marks
// /run/systemd/first-boot), else empty, which makes every machine generate
// and keep its own.
func armScript(nonce string, inventory []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, `set -eu
dir=%[1]s
rm -rf "$dir"
install -d -m 0700 "$dir"
if [ -e /run/systemd/first-boot ]; then
	printf 'uninitialized\n' >"$dir/machine-id"
else
	: >"$dir/machine-id"
fi
`, sealDir)
	heredoc(&b, sealDir+"/seal", 0o700, []byte(sealText(nonce)))
	heredoc(&b, "/etc/systemd/system/"+sealUnit, 0o644, []byte(sealUnitFile))
	if inventory != nil {
		heredoc(&b, inventoryPath, 0o700, inventory)
		heredoc(&b, sealDir+"/run-inventory", 0o700, []byte(runInventory))
	}
	fmt.Fprintf(&b, `systemctl daemon-reload
systemctl enable --now --quiet %[1]s
# The seal reports through the report port, which udev names once the
# virtio console driver has found it.
if [ ! -e /dev/virtio-ports/%[2]s ]; then
	modprobe virtio_console 2>/dev/null || true
	udevadm settle --timeout=30 || true
fi
if [ ! -e /dev/virtio-ports/%[2]s ]; then
	echo "the report port /dev/virtio-ports/%[2]s is missing: the guest's kernel needs the virtio_console driver (CONFIG_VIRTIO_CONSOLE)" >&2
	exit 3
fi
`, sealUnit, qemu.ReportPort)
	return b.String()
}

// heredoc writes content to path in the guest with mode, through base64, so
// that no byte of it means anything to the shell.
func heredoc(b *strings.Builder, path string, mode uint32, content []byte) {
	fmt.Fprintf(b, "base64 -d >%s <<'VIRTDEV_EOF'\n", guest.Quote(path))
	encoded := base64.StdEncoding.EncodeToString(content)
	for len(encoded) > 76 {
		b.WriteString(encoded[:76] + "\n")
		encoded = encoded[76:]
	}
	fmt.Fprintf(b, "%s\nVIRTDEV_EOF\nchmod %04o %s\n", encoded, mode, guest.Quote(path))
}

// hookCommand runs a hook whose text comes on standard input: it is
// written to a file of its own in the guest, run with no input (as root
// when asRoot) and removed. ssh hands the command to dev's login shell.
func hookCommand(asRoot bool) string {
	sudo := ""
	if asRoot {
		sudo = "sudo "
	}
	return `f=$(mktemp) && cat >"$f" && chmod 700 "$f" && { ` + sudo + `"$f" </dev/null; s=$?; rm -f "$f"; exit $s; }`
}

// inventoryCommand takes the inventory before the session.
const inventoryCommand = "sudo " + sealDir + "/run-inventory"

// report is what the seal wrote to the report port.
type report struct {
	sealed          bool   // the seal finished
	inventory       []byte // the inventory after the session, when taken
	inventoryStatus int    // its exit status
	hasInventory    bool
}

// parseReport reads the report port's output of the session with nonce:
// lines of its own start with reportWord and the nonce (the inventory's
// text in between is the hook's, and may end without a line break).
func parseReport(data []byte, nonce string) report {
	var r report
	prefix := []byte(reportWord + " " + nonce + " ")
	begin := append(append([]byte{}, prefix...), "inventory-begin\n"...)
	end := append(append([]byte{}, prefix...), "inventory-end "...)
	if i := bytes.LastIndex(data, begin); i >= 0 {
		rest := data[i+len(begin):]
		if j := bytes.Index(rest, end); j >= 0 {
			r.inventory, r.hasInventory = rest[:j], true
			status, _, _ := bytes.Cut(rest[j+len(end):], []byte("\n"))
			r.inventoryStatus, _ = strconv.Atoi(string(status))
		}
	}
	sealed := append(append([]byte{}, prefix...), "sealed\n"...)
	r.sealed = bytes.HasSuffix(data, sealed)
	return r
}
