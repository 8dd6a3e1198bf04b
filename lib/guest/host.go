package guest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

var keyPattern = pattern(`^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+=*( [^\r\n]*)?$`)

// ParsePublicKey checks that data is one OpenSSH public key and returns it
// as the authorized_keys line dev receives.
func ParsePublicKey(data []byte) (string, error) {
	key := strings.TrimSpace(string(data))
	if strings.ContainsAny(key, "\r\n") || !keyPattern().MatchString(key) {
		return "", fmt.Errorf("not one OpenSSH public key line (type, base64 key, optional comment)")
	}
	return key, nil
}

// Tool is a host program a build runs.
type Tool struct {
	Name    string // the command
	Package string // the Debian package that provides it
}

// Tools are the host programs a build needs; Build finds them itself.
var Tools = []Tool{
	{"mmdebstrap", "mmdebstrap"},
	{"sfdisk", "fdisk"},
	{"mkfs.ext4", "e2fsprogs"},
	{"mkfs.fat", "dosfstools"},
	{"mcopy", "mtools"},
	{"qemu-img", "qemu-utils"},
}

// sbinDirs hold tools that an unprivileged user's PATH often lacks.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// MissingToolError lists the host programs that are not installed.
type MissingToolError struct{ Missing []Tool }

func (e *MissingToolError) Error() string {
	var names, packages []string
	seen := map[string]bool{}
	for _, t := range e.Missing {
		names = append(names, t.Name)
		if !seen[t.Package] {
			seen[t.Package] = true
			packages = append(packages, t.Package)
		}
	}
	return fmt.Sprintf("missing host programs: %s\nInstall them (Debian/Ubuntu): sudo apt-get install %s",
		strings.Join(names, ", "), strings.Join(packages, " "))
}

// FindTools resolves every tool to a path, looking in PATH and then in the
// sbin directories.
func FindTools() (map[string]string, error) {
	paths := map[string]string{}
	var missing []Tool
	for _, t := range Tools {
		if p, ok := lookTool(t.Name); ok {
			paths[t.Name] = p
		} else {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return nil, &MissingToolError{missing}
	}
	return paths, nil
}

func lookTool(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, true
		}
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// SubordinateIDsError says which subordinate id file lacks a range for the
// user, and how to add one.
type SubordinateIDsError struct {
	User  string
	Files []string
	Free  int64 // start of a range no one holds yet
}

func (e *SubordinateIDsError) Error() string {
	r := fmt.Sprintf("%d-%d", e.Free, e.Free+MinSubordinateIDs-1)
	return fmt.Sprintf("no subordinate id range of at least %d ids for user %s in %s\n"+
		"A rootless build maps the guest's users into such a range. Add one (as root):\n"+
		"    usermod --add-subuids %s --add-subgids %s %s\n"+
		"or run virtdev-bootstrap as root.",
		MinSubordinateIDs, e.User, strings.Join(e.Files, " and "), r, r, e.User)
}

// MinSubordinateIDs is what mmdebstrap needs to map a whole Debian system.
const MinSubordinateIDs = 65536

// CheckSubordinateIDs makes sure subuidFile and subgidFile each give the
// user (by name or uid) a range large enough for a rootless build.
func CheckSubordinateIDs(user string, uid int, subuidFile, subgidFile string) error {
	var lacking []string
	for _, file := range []string{subuidFile, subgidFile} {
		if !hasRange(file, user, uid) {
			lacking = append(lacking, file)
		}
	}
	if len(lacking) > 0 {
		return &SubordinateIDsError{User: user, Files: lacking, Free: freeRange(subuidFile, subgidFile)}
	}
	return nil
}

// freeRange finds the first block of MinSubordinateIDs ids, from 100000 on
// as useradd allocates them, that no line of the files overlaps.
func freeRange(files ...string) int64 {
	type span struct{ start, end int64 }
	var taken []span
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Split(strings.TrimSpace(line), ":")
			if len(fields) != 3 {
				continue
			}
			start, err1 := strconv.ParseInt(fields[1], 10, 64)
			count, err2 := strconv.ParseInt(fields[2], 10, 64)
			if err1 == nil && err2 == nil {
				taken = append(taken, span{start, start + count})
			}
		}
	}
	start := int64(100000)
	for moved := true; moved; {
		moved = false
		for _, t := range taken {
			if start < t.end && t.start < start+MinSubordinateIDs {
				start, moved = t.end, true
			}
		}
	}
	return start
}

func hasRange(file, user string, uid int) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	return rangeIn(f, user, uid)
}

func rangeIn(r io.Reader, user string, uid int) bool {
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		fields := strings.Split(strings.TrimSpace(scanner.Text()), ":")
		if len(fields) != 3 || (fields[0] != user && fields[0] != strconv.Itoa(uid)) {
			continue
		}
		if n, err := strconv.Atoi(fields[2]); err == nil && n >= MinSubordinateIDs {
			return true
		}
	}
	return false
}
