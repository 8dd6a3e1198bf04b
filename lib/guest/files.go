package guest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"virtdev/lib/fwcfg"
)

// IDs are the filesystem identifiers chosen before the filesystems exist, so
// that fstab and the kernel command line can name them.
type IDs struct {
	Root     string // ext4 UUID of the root filesystem
	ESP      string // vfat volume serial, XXXX-XXXX
	XBOOTLDR string // vfat volume serial, XXXX-XXXX
}

// NewIDs draws fresh random identifiers.
func NewIDs() (IDs, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return IDs{}, err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:16])
	return IDs{
		Root:     h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32],
		ESP:      serial(b[16:20]),
		XBOOTLDR: serial(b[20:24]),
	}, nil
}

func serial(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	return h[:4] + "-" + h[4:]
}

// SerialNumber is a vfat serial as mkfs.fat -i wants it: eight hex digits.
func SerialNumber(s string) string { return strings.ReplaceAll(s, "-", "") }

// File is one file the guest receives.
type File struct {
	Path    string
	Mode    uint32
	Content string
}

// Paths inside the guest that more than one rendering refers to.
const (
	loaderEntryHook = "/etc/kernel/postinst.d/zz-virtdev-loader-entry"
	kernelCmdline   = "/etc/kernel/cmdline"
	// hostKey is where the machine's host key is put at every boot: in
	// /run, so that no disk ever holds it, the base least of all (a
	// maintenance session's key would be sealed into it).
	hostKeyDir    = "/run/virtdev"
	hostKey       = hostKeyDir + "/ssh_host_ed25519_key"
	keymapService = "virtdev-keymap.service"
	kbdModelMap   = "/usr/share/systemd/kbd-model-map"
	vconsoleConf  = "/etc/vconsole.conf"
	keymapDir     = "/usr/share/keymaps" // console-data's, where Debian's loadkeys looks
)

// KernelCmdline is the guest kernel's command line: the root filesystem and
// the serial console virtdev-console attaches to. quiet keeps the boot log
// off the emulated serial port, which is slow under TCG; the journal still
// has it.
func KernelCmdline(ids IDs) string {
	return fmt.Sprintf("root=UUID=%s rw quiet console=ttyS0,115200", ids.Root)
}

// LoaderConf is systemd-boot's configuration on the ESP: boot virtdev's
// entry at once, menu hidden, no command-line editing.
const LoaderConf = `default virtdev.conf
timeout 0
editor no
`

// Fstab mounts /home from whatever disk carries the label home, which is
// what lets each project bring its own home disk. The boot partitions are
// mounted on first use only, which keeps them off the boot path.
func Fstab(ids IDs) string {
	return fmt.Sprintf(`# <file system> <mount point> <type> <options> <dump> <pass>
UUID=%s / ext4 rw,errors=remount-ro 0 1
LABEL=home /home ext4 defaults 0 2
UUID=%s /efi vfat umask=0077,noauto,x-systemd.automount 0 0
UUID=%s /boot vfat umask=0077,noauto,x-systemd.automount 0 0
`, ids.Root, ids.ESP, ids.XBOOTLDR)
}

// loaderEntryScript rewrites systemd-boot's entry for the newest kernel in
// /boot. Debian's kernel packages run /etc/kernel/postinst.d and postrm.d on
// every kernel installation and removal, after initramfs-tools made the
// initrd, so kernel updates made during maintenance keep the base bootable.
const loaderEntryScript = `#!/bin/sh
# Installed by virtdev-bootstrap: points systemd-boot at the newest kernel in
# /boot, the XBOOTLDR partition. Kernel packages run it after every kernel
# installation and removal.
set -eu
version=$(ls /boot | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1)
if [ -z "$version" ] || [ ! -e "/boot/initrd.img-$version" ]; then
	exit 0
fi
mkdir -p /boot/loader/entries
entry=/boot/loader/entries/virtdev.conf
cat > "$entry.new" <<ENTRY
title   Debian GNU/Linux ($version)
linux   /vmlinuz-$version
initrd  /initrd.img-$version
options $(cat ` + kernelCmdline + `)
ENTRY
mv "$entry.new" "$entry"
`

// SSHDConfig hardens sshd: the virtdev key of dev is the only way in.
// Debian's sshd_config reads sshd_config.d first and the first value of a
// setting wins, so this overrides the package's file without editing it.
const SSHDConfig = `# virtdev: dev logs in with the virtdev key, nobody logs in any other way.
HostKey ` + hostKey + `
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
HostbasedAuthentication no
GSSAPIAuthentication no
PermitRootLogin no
AllowUsers ` + User + `
PermitUserEnvironment no
PermitTunnel no
UseDNS no
`

// hostKeyUnit installs the SSH host key virtdev made for this machine on
// the host, and handed it through fw_cfg, at every boot: the host pinned
// its public half before the machine ever booted. fw_cfg is readable by
// root alone. Without the key (a machine started by something else than
// virtdev, a garbled item), the unit fails and sshd, which requires it,
// does not start: a server with a key of its own would only be refused.
const hostKeyUnit = `[Unit]
Description=Install the SSH host key virtdev handed this machine
Before=ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStartPre=-/sbin/modprobe -q qemu_fw_cfg
ExecStart=/bin/sh -c 'install -d -m 0755 ` + hostKeyDir + ` && (umask 077 && cat /sys/firmware/qemu_fw_cfg/by_name/` + fwcfg.HostKey + `/raw > ` + hostKey + `) && /usr/bin/ssh-keygen -y -f ` + hostKey + ` > ` + hostKey + `.pub'

[Install]
RequiredBy=ssh.service
`

// hostnameUnit names the machine after its project, read from the fw_cfg
// item virtdev-start sets. It runs before networking and sshd so that the
// DHCP request and every login already see the name. The kernel caps a
// hostname at 64 bytes; project names may be longer.
const hostnameUnit = `[Unit]
Description=Set the hostname to the virtdev project name
DefaultDependencies=no
After=systemd-modules-load.service
Before=sysinit.target network-pre.target systemd-networkd.service ssh.service systemd-hostnamed.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStartPre=-/sbin/modprobe -q qemu_fw_cfg
ExecStart=/bin/sh -c 'f=/sys/firmware/qemu_fw_cfg/by_name/` + fwcfg.ProjectName + `/raw; if [ -r "$$f" ]; then head -c 64 "$$f" > /proc/sys/kernel/hostname; fi'

[Install]
WantedBy=sysinit.target
`

// serialAutologin logs dev in on the serial console. Only the host user can
// reach that console (a socket in their own directory), and it is the way
// in when SSH is broken.
const serialAutologin = `[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin ` + User + ` --noclear --keep-baud 115200,57600,38400,9600 %I $TERM
`

// network takes an address by DHCP on any wired NIC. The resolvers are
// VIRTDEV_DNS alone, by default the machine's own network (the DHCP
// server's address), which answers as the project's zone allows.
const network = `[Match]
Name=en* eth*

[Network]
DHCP=yes

[DHCPv4]
UseDNS=no

[IPv6AcceptRA]
UseDNS=no
`

// initramfsConf keeps the initrd to the few modules a virtio guest needs
// to mount its root: a smaller initrd loads and unpacks faster, which counts
// under emulation.
const initramfsConf = `MODULES=list
RESUME=none
`

const initramfsHook = `#!/bin/sh
# virtdev: the drivers a QEMU guest needs to find and mount its root.
[ "${1:-}" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
manual_add_modules virtio_pci virtio_blk virtio_scsi ext4 crc32c_generic
`

// keymapUnit loads the console keymap of /etc/vconsole.conf at boot, the
// job of systemd-vconsole-setup, which Debian's systemd leaves out. SSH does
// not wait for it; the gettys do, since a getty hangs up its terminal as it
// starts, and a loadkeys that has the console open dies with it.
const keymapUnit = `[Unit]
Description=Load the console keymap named in ` + vconsoleConf + `
ConditionPathExists=` + vconsoleConf + `
Wants=getty-pre.target
Before=getty-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
EnvironmentFile=` + vconsoleConf + `
ExecStart=/bin/loadkeys -q -C /dev/tty1 $KEYMAP

[Install]
WantedBy=multi-user.target
`

const hosts = `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
`

// EssentialFiles are installed before the kernel, so that its first initrd
// is already the small one.
func EssentialFiles() []File {
	return []File{
		{"/etc/initramfs-tools/conf.d/virtdev", 0o644, initramfsConf},
		{"/etc/initramfs-tools/hooks/virtdev", 0o755, initramfsHook},
	}
}

// Files are the configuration files of the guest contract. The console
// keymap is not among them: the setup script finds which one
// VIRTDEV_KEYMAP names in the new system.
func Files(s Settings, ids IDs) []File {
	addrs := make([]string, len(s.DNS))
	for i, a := range s.DNS {
		addrs[i] = a.String()
	}
	return []File{
		{"/etc/fstab", 0o644, Fstab(ids)},
		{"/etc/hostname", 0o644, "virtdev\n"},
		{"/etc/hosts", 0o644, hosts},
		{kernelCmdline, 0o644, KernelCmdline(ids) + "\n"},
		{loaderEntryHook, 0o755, loaderEntryScript},
		{"/etc/kernel/postrm.d/zz-virtdev-loader-entry", 0o755, loaderEntryScript},
		{"/etc/ssh/sshd_config.d/virtdev.conf", 0o644, SSHDConfig},
		{"/etc/systemd/system/virtdev-ssh-host-key.service", 0o644, hostKeyUnit},
		{"/etc/systemd/system/virtdev-hostname.service", 0o644, hostnameUnit},
		{"/etc/systemd/system/" + keymapService, 0o644, keymapUnit},
		{"/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf", 0o644, serialAutologin},
		{"/etc/systemd/network/20-virtdev.network", 0o644, network},
		{"/etc/systemd/resolved.conf.d/virtdev.conf", 0o644, "[Resolve]\nDNS=" + strings.Join(addrs, " ") + "\n"},
		{"/etc/sudoers.d/" + User, 0o440, User + " ALL=(ALL:ALL) NOPASSWD: ALL\n"},
		{"/etc/default/locale", 0o644, "LANG=" + s.Locale + "\n"},
		{"/etc/timezone", 0o644, s.Timezone + "\n"},
	}
}
