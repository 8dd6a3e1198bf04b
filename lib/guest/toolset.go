package guest

import (
	"fmt"
	"strings"
)

// A DevTool is one item of the developer toolset: a package the seed's Arch
// base installs, and the Debian packages that bring the same to a Debian
// base.
type DevTool struct {
	Seed     string   // the seed's Arch package
	Packages []string // the Debian packages in bookworm; none where bookworm has no equivalent
	Trixie   []string // the Debian packages from trixie on, where they differ
	Note     string   // how the Debian side differs, or what to do where it has nothing
}

// Toolset is what every base carries on top of virtdev's contract, so that
// a new project can be developed in at once: the seed's package list, item
// by item. Arch installs Recommends too; a Debian base installs none, so a
// recommended package that a tool needs to do its job is named here.
var Toolset = []DevTool{
	{Seed: "base", Packages: []string{"procps", "psmisc", "iproute2", "iputils-ping", "file", "xz-utils", "bzip2"},
		Note: "what Arch's base has and Debian's required set lacks: ps, top, killall, ip, ping, file, xz, bzip2"},
	{Seed: "base-devel", Packages: []string{"build-essential", "autoconf", "automake", "libtool", "pkgconf", "bison", "flex"}},
	{Seed: "git", Packages: []string{"git"}},
	{Seed: "openssh", Packages: []string{"openssh-client"}, Note: "the server is part of the contract"},
	{Seed: "vim", Packages: []string{"vim"}},
	{Seed: "less", Packages: []string{"less"}},
	{Seed: "man-db", Packages: []string{"man-db"}},
	{Seed: "man-pages", Packages: []string{"manpages", "manpages-dev"}},
	{Seed: "curl", Packages: []string{"curl", "ca-certificates"}, Note: "ca-certificates, a Recommends, for HTTPS"},
	{Seed: "wget", Packages: []string{"wget"}},
	{Seed: "which", Packages: []string{"debianutils"}},
	{Seed: "tree", Packages: []string{"tree"}},
	{Seed: "unzip", Packages: []string{"unzip"}},
	{Seed: "zip", Packages: []string{"zip"}},
	{Seed: "htop", Packages: []string{"htop"}},
	{Seed: "rsync", Packages: []string{"rsync"}},
	{Seed: "socat", Packages: []string{"socat"}},
	{Seed: "kitty-terminfo", Packages: []string{"kitty-terminfo"}},
	{Seed: "foot-terminfo", Packages: []string{"foot-terminfo"}},
	{Seed: "rxvt-unicode-terminfo", Packages: []string{"ncurses-base", "ncurses-term"},
		Note: "ncurses-base has rxvt-unicode; ncurses-term adds many more terminals"},
	{Seed: "ghostty-terminfo",
		Note: "not in bookworm: copy it from a host that has it, see virtdev(7)"},
	{Seed: "ripgrep", Packages: []string{"ripgrep"}},
	{Seed: "fd", Packages: []string{"fd-find"}, Note: "Debian calls it fdfind; the base links fd to it"},
	{Seed: "fzf", Packages: []string{"fzf"}},
	{Seed: "bat", Packages: []string{"bat"}, Note: "Debian calls it batcat; the base links bat to it"},
	{Seed: "jq", Packages: []string{"jq"}},
	{Seed: "eza", Packages: []string{"exa"}, Trixie: []string{"eza"},
		Note: "not in bookworm: exa, the project eza continues, instead"},
	{Seed: "tmux", Packages: []string{"tmux"}},
	{Seed: "strace", Packages: []string{"strace"}},
	{Seed: "gdb", Packages: []string{"gdb"}},
	{Seed: "lsof", Packages: []string{"lsof"}},
	{Seed: "inetutils", Packages: []string{"inetutils-telnet", "inetutils-ftp", "inetutils-traceroute", "inetutils-tools"},
		Note: "hostname is in every Debian system, ping comes with base"},
	{Seed: "openbsd-netcat", Packages: []string{"netcat-openbsd"}},
	{Seed: "entr", Packages: []string{"entr"}},
	{Seed: "diffutils", Packages: []string{"diffutils"}},
	{Seed: "patch", Packages: []string{"patch"}},
	{Seed: "bash-completion", Packages: []string{"bash-completion"}},
	{Seed: "shellcheck", Packages: []string{"shellcheck"}},
	{Seed: "time", Packages: []string{"time"}},
	{Seed: "github-cli", Packages: []string{"gh"}},
	{Seed: "ncdu", Packages: []string{"ncdu"}},
	{Seed: "hyperfine", Packages: []string{"hyperfine"}},
	{Seed: "7zip", Packages: []string{"7zip", "p7zip-full"}, Note: "7zip has 7zz, p7zip-full 7z and 7za"},
	{Seed: "tokei", Trixie: []string{"tokei"},
		Note: "not in bookworm: cloc counts lines of code too, see virtdev(7)"},
	{Seed: "direnv", Packages: []string{"direnv"}},
	{Seed: "python", Packages: []string{"python3", "python-is-python3"}},
	{Seed: "python-pip", Packages: []string{"python3-pip"}},
	{Seed: "python-virtualenv", Packages: []string{"virtualenv", "python3-venv"}, Note: "python3-venv for python3 -m venv"},
	{Seed: "nodejs", Packages: []string{"nodejs"}},
	{Seed: "npm", Packages: []string{"npm"}},
	{Seed: "rustup", Trixie: []string{"rustup"},
		Note: "not in bookworm: rustup's own installer, or rustc and cargo, see virtdev(7)"},
}

// toolLinks give tools the names the seed's users type, where Debian renamed
// them to avoid a clash with older packages that a base does not install.
var toolLinks = []struct{ link, target string }{
	{"/usr/local/bin/fd", "/usr/bin/fdfind"},
	{"/usr/local/bin/bat", "/usr/bin/batcat"},
}

// laterSuites descend from trixie, where some tools bookworm lacks arrived.
var laterSuites = map[string]bool{
	"trixie": true, "forky": true, "duke": true,
	"stable": true, "testing": true, "unstable": true, "sid": true,
}

// ToolsetPackages lists the Debian packages of the toolset for a suite.
func ToolsetPackages(suite string) []string {
	var names []string
	for _, t := range Toolset {
		if laterSuites[suite] && t.Trixie != nil {
			names = append(names, t.Trixie...)
		} else {
			names = append(names, t.Packages...)
		}
	}
	return names
}

// ToolsetTable is the toolset as --help shows it: each seed package, the
// Debian packages that stand for it, and how they differ.
func ToolsetTable() string {
	const column = 25
	var b strings.Builder
	b.WriteString(wrap("", "Developer toolset: each package of the seed's Arch base, and the Debian "+
		DefaultSuite+" packages a base carries for it. From trixie on, eza, tokei and rustup "+
		"are Debian packages too. VIRTDEV_PACKAGES adds to the list.", 0))
	for _, t := range Toolset {
		packages := strings.Join(t.Packages, " ")
		if packages == "" {
			packages = "-"
		}
		b.WriteString(wrap(fmt.Sprintf("  %-*s", column-2, t.Seed), packages, column))
		if t.Note != "" {
			b.WriteString(wrap(strings.Repeat(" ", column), "("+t.Note+")", column))
		}
	}
	return b.String()
}

// wrap writes lead and then the words of text, in lines of at most 79
// columns that continue at column indent.
func wrap(lead, text string, indent int) string {
	const width = 79
	b := strings.Builder{}
	b.WriteString(lead)
	column := len(lead)
	for i, w := range strings.Fields(text) {
		if i > 0 {
			if column+1+len(w) > width {
				b.WriteString("\n" + strings.Repeat(" ", indent))
				column = indent
			} else {
				b.WriteString(" ")
				column++
			}
		}
		b.WriteString(w)
		column += len(w)
	}
	return b.String() + "\n"
}
