package guest

import (
	"fmt"
	"strings"
)

// GPT partition types (UAPI discoverable partitions specification).
const (
	TypeESP      = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	TypeXBOOTLDR = "BC13C2FF-59E6-4262-A352-B275FD6F7172"
	TypeRootX64  = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
	TypeLinux    = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
)

const (
	mib        = int64(1) << 20
	sectorSize = 512

	// The Arch base's layout: 1 MiB alignment gap, a 512 MiB ESP, a 1 GiB
	// XBOOTLDR for kernels and initrds, the root filesystem on the rest.
	espStart      = 1 * mib
	espSize       = 512 * mib
	xbootldrStart = espStart + espSize
	xbootldrSize  = 1024 * mib
	rootStart     = xbootldrStart + xbootldrSize
	// The backup GPT lives in the last sectors; leaving the last MiB free
	// keeps every partition aligned.
	tail = 1 * mib

	// Smallest filesystems worth building: a bootable Debian needs about a
	// gigabyte, and packages and updates need room on top.
	minRootSize = 2048 * mib
	minHomeSize = 64 * mib
)

// Partition is one GPT entry, in bytes.
type Partition struct {
	Name  string
	Type  string
	Start int64
	Size  int64
}

// Disk is a GPT disk image of a given size and its partitions.
type Disk struct {
	Size       int64
	Partitions []Partition
}

// SystemDisk lays out the system disk: ESP, XBOOTLDR, root.
func SystemDisk(size int64) (Disk, error) {
	size = size &^ (mib - 1)
	root := size - rootStart - tail
	if root < minRootSize {
		return Disk{}, fmt.Errorf("the system disk must be at least %d MiB, to hold the boot partitions (%d MiB) and a root filesystem of %d MiB",
			(rootStart+minRootSize+tail)/mib, rootStart/mib, minRootSize/mib)
	}
	return Disk{Size: size, Partitions: []Partition{
		{Name: "esp", Type: TypeESP, Start: espStart, Size: espSize},
		{Name: "xbootldr", Type: TypeXBOOTLDR, Start: xbootldrStart, Size: xbootldrSize},
		{Name: "root", Type: TypeRootX64, Start: rootStart, Size: root},
	}}, nil
}

// HomeDisk lays out the home disk: one partition holding /home.
func HomeDisk(size int64) (Disk, error) {
	size = size &^ (mib - 1)
	home := size - espStart - tail
	if home < minHomeSize {
		return Disk{}, fmt.Errorf("the home disk must be at least %d MiB", (espStart+minHomeSize+tail)/mib)
	}
	return Disk{Size: size, Partitions: []Partition{
		{Name: "home", Type: TypeLinux, Start: espStart, Size: home},
	}}, nil
}

// SfdiskScript is the input that makes sfdisk write the disk's GPT.
func (d Disk) SfdiskScript() string {
	var b strings.Builder
	b.WriteString("label: gpt\nunit: sectors\nsector-size: 512\n\n")
	for _, p := range d.Partitions {
		fmt.Fprintf(&b, "start=%d, size=%d, type=%s, name=%s\n",
			p.Start/sectorSize, p.Size/sectorSize, p.Type, p.Name)
	}
	return b.String()
}
