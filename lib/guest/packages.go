package guest

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// packagePattern is a Debian package name, optionally with the apt suffixes
// that pick an architecture, a version or a release.
var packagePattern = pattern(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?([=/][A-Za-z0-9.+~:_-]+)?$`)

// PackageError points at the line of a package list that is wrong.
type PackageError struct {
	Line int
	Word string
	Want string // what a name looks like, such as "a Debian package name"
}

func (e *PackageError) Error() string {
	return fmt.Sprintf("line %d: %q is not %s", e.Line, e.Word, e.Want)
}

// ParsePackages reads a list of Debian packages (see ParseNames).
func ParsePackages(r io.Reader) ([]string, error) {
	return ParseNames(r, packagePattern(), "a Debian package name")
}

// ParseNames reads a package list: names separated by spaces or new lines,
// with everything after a # ignored, each matching pattern; want says what
// a name looks like. Duplicates are dropped. The Arch base reads its lists
// with it too.
func ParseNames(r io.Reader, pattern *regexp.Regexp, want string) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	scanner := bufio.NewScanner(r)
	for line := 1; scanner.Scan(); line++ {
		text, _, _ := strings.Cut(scanner.Text(), "#")
		for _, word := range strings.Fields(text) {
			if !pattern.MatchString(word) {
				return nil, &PackageError{line, word, want}
			}
			if !seen[word] {
				seen[word] = true
				names = append(names, word)
			}
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	return names, nil
}

// basePackages is what the contract needs on top of Debian's required set;
// the developer toolset comes on top of it.
var basePackages = []string{
	"linux-image-amd64",
	"initramfs-tools",
	"systemd-sysv",
	"udev",
	"dbus",              // logind needs it, and without logind the power button is ignored
	"libpam-systemd",    // sessions for logind
	"systemd-resolved",  // DNS from VIRTDEV_DNS
	"libnss-myhostname", // the fw_cfg hostname resolves without touching /etc/hosts
	"openssh-server",
	"sudo",
	"rsync",
	"systemd-boot-efi", // the boot loader binary, kept in the guest so maintenance can update it
	"kbd",              // loadkeys, for VIRTDEV_KEYMAP: Debian's systemd has no systemd-vconsole-setup
	"console-data",     // the keymaps loadkeys reads; Debian's kbd ships none
}

// AllPackages is everything mmdebstrap installs beyond the required set:
// the contract's packages, the toolset and VIRTDEV_PACKAGES, each once.
func (s Settings) AllPackages() []string {
	lists := [][]string{basePackages, nil, ToolsetPackages(s.Suite), s.Packages}
	if s.needsLocales() {
		lists[1] = []string{"locales"}
	}
	var all []string
	seen := map[string]bool{}
	for _, list := range lists {
		for _, p := range list {
			if !seen[p] {
				seen[p] = true
				all = append(all, p)
			}
		}
	}
	return all
}
