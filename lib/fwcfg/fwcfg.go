// Package fwcfg names the items virtdev hands a guest through QEMU's fw_cfg
// interface. They are a contract between two sides that never meet: the
// QEMU command line (lib/qemu) fills them, and the guest's own boot-time
// setup, written into every base (lib/guest), reads them from
// /sys/firmware/qemu_fw_cfg/by_name/<item>/raw.
package fwcfg

// ProjectName holds the machine's name; the guest makes it its hostname.
// Items of our own live under opt/, the space QEMU leaves to users, in a
// directory named after the program, as QEMU asks.
const ProjectName = "opt/virtdev/project"

// HostKey holds the private half of the machine's SSH host key, which
// virtdev makes on the host and pins before the guest's first boot; the
// guest's sshd serves it. Only the guest's root can read fw_cfg items.
const HostKey = "opt/virtdev/ssh_host_ed25519_key"
