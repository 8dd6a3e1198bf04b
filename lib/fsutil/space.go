package fsutil

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Space is a file system and the room left on it, as a user sees it.
type Space struct {
	// MountPoint is where the file system is mounted; Type is its kind
	// (ext4, tmpfs, …). Both are empty when the mount table does not say.
	MountPoint string
	Type       string
	// Free is what an unprivileged user may still write (statfs's
	// f_bavail: the blocks reserved for root do not count), Size the whole.
	Free, Size int64
}

// SpaceOf finds the file system holding path, which must exist, and the
// room left on it.
func SpaceOf(path string) (Space, error) {
	var st unix.Statfs_t
	if err := statfs(path, &st); err != nil {
		return Space{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	s := Space{Free: int64(st.Bavail) * int64(st.Bsize), Size: int64(st.Blocks) * int64(st.Bsize)}
	s.MountPoint, s.Type = mountOf(path)
	return s, nil
}

func statfs(path string, st *unix.Statfs_t) error {
	for {
		if err := unix.Statfs(path, st); err != unix.EINTR {
			return err
		}
	}
}

// String is the file system and its room, for messages:
// "/var/tmp (ext4): 1.5 GiB free of 20.0 GiB".
func (s Space) String() string {
	where := s.MountPoint
	switch {
	case where == "":
		where = "its file system"
	case s.Type != "":
		where += " (" + s.Type + ")"
	}
	return fmt.Sprintf("%s: %s free of %s", where, SizeText(s.Free), SizeText(s.Size))
}

// Survey is a command that shows what takes the room on the file system,
// for messages that ask people to free some.
func (s Space) Survey() string {
	where := s.MountPoint
	if strings.ContainsFunc(where, func(r rune) bool { return !strings.ContainsRune(plainPath, r) }) {
		where = "'" + strings.ReplaceAll(where, "'", `'\''`) + "'"
	}
	return "du -xh -d 2 " + where + " | sort -h"
}

// plainPath are the characters a path may have to stand unquoted in a
// shell command.
const plainPath = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@%,"

// mountOf finds the mount that holds path in the mount table of this
// process: the longest mount point above path's real location, preferring
// one of the same device. Bind mounts and btrfs subvolumes make the device
// alone ambiguous or unknown, and nothing but a guess is needed.
func mountOf(path string) (mountPoint, fsType string) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", ""
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return "", ""
	}
	var st unix.Stat_t
	device := ""
	if unix.Stat(real, &st) == nil {
		device = fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", ""
	}
	defer f.Close()
	best, bestSameDevice := -1, false
	scan := bufio.NewScanner(f)
	scan.Buffer(make([]byte, 0, 4096), 1<<20)
	for scan.Scan() {
		m, ok := parseMountinfo(scan.Text())
		if !ok || !within(real, m.point) {
			continue
		}
		same := m.device == device
		// A mount of the right device beats any other; among equals the
		// deepest, and the last listed (mounted over the others) wins.
		if (same && !bestSameDevice) || (same == bestSameDevice && len(m.point) >= best) {
			best, bestSameDevice = len(m.point), same
			mountPoint, fsType = m.point, m.fsType
		}
	}
	return mountPoint, fsType
}

type mountEntry struct{ device, point, fsType string }

// parseMountinfo reads one line of /proc/<pid>/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
//
// the device is the third field, the mount point the fifth, and the type
// follows the lone "-" that ends the optional fields.
func parseMountinfo(line string) (mountEntry, bool) {
	fields := strings.Fields(line)
	if len(fields) < 7 {
		return mountEntry{}, false
	}
	e := mountEntry{device: fields[2], point: unescapeMount(fields[4])}
	for i := 6; i < len(fields)-1; i++ {
		if fields[i] == "-" {
			e.fsType = fields[i+1]
			return e, true
		}
	}
	return mountEntry{}, false
}

// unescapeMount undoes the kernel's octal escapes of space, tab, newline
// and backslash in mount points (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	if dir == "/" || path == dir {
		return true
	}
	return strings.HasPrefix(path, dir+"/")
}

// SizeText writes a number of bytes for people: "1.5 GiB".
func SizeText(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	value, i := float64(n), 0
	for value >= 1024 && i < len(units)-1 {
		value /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", value, units[i])
}
