package sshx

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"virtdev/lib/layout"
)

// Source is one piece of the user's SSH configuration, and where it came
// from (shown in the assembled file, so that ssh's "line N" errors can be
// traced back).
type Source struct {
	Origin string
	Text   []byte
}

// ConfigPaths are the user's SSH configuration files for a machine,
// highest priority first: the project's ssh_config, then the one for
// every project. The maintenance machine is no project and has only the
// latter; a Host virtdev-maintenance block there reaches it.
func ConfigPaths(l layout.Layout, name string) []string {
	if name == layout.Maintenance {
		return []string{l.UserSSHConfig()}
	}
	return []string{l.ProjectConfig(name).SSHConfig, l.UserSSHConfig()}
}

// ConfigFiles reads the files of ConfigPaths that exist.
func ConfigFiles(l layout.Layout, name string) ([]Source, error) {
	var sources []Source
	for _, p := range ConfigPaths(l, name) {
		text, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sources = append(sources, Source{Origin: p, Text: text})
	}
	return sources, nil
}

// Alias is the host name ssh is given for a machine. Host blocks in the
// user's configuration can match it; the real address comes from the
// configuration. A bare project name could not serve, since names may
// start with "-", which ssh refuses as a host name.
func (t Target) Alias() string { return Alias(t.Name) }

// Alias is the host name ssh knows the machine name by, and pins its host
// key under.
func Alias(name string) string { return "virtdev-" + name }

// Assemble builds the configuration virtdev hands to ssh -F, so that
// the user's ~/.ssh/config is never read: its ForwardAgent or ControlMaster
// has no business with an untrusted guest.
//
// OpenSSH keeps the first value it reads for an option, so the file runs
// from the strongest to the weakest setting:
//
//  1. where the machine is, which only virtdev knows (HostName, Port);
//  2. the user's sources, in the order given (highest priority first);
//  3. virtdev's defaults, which any source may override.
//
// Each source starts with "Match all", so a Host block left open at the end
// of one source cannot swallow the next one's lines.
//
// The host key is known before the first connection (see MakeHostKey):
// the machine's own known_hosts pins it under a fixed alias, so a port
// reassigned at the next start does not matter, and StrictHostKeyChecking
// yes makes ssh refuse any other key, from the first connection on:
// another key means something else answers on the port (another user's
// program that took it, a machine left from elsewhere).
func Assemble(t Target, sources []Source) ([]byte, error) {
	defaults, err := Defaults(t.Machine, t.Key)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Assembled by virtdev for one connection to %s; removed when it ends.\n\n", t.Name)
	fmt.Fprintf(&b, "# Where the machine is.\nHostName %s\nPort %d\n", Host, t.Port)
	for _, s := range sources {
		fmt.Fprintf(&b, "\n# From %s\nMatch all\n", strings.ReplaceAll(s.Origin, "\n", " "))
		b.Write(s.Text)
		if len(s.Text) > 0 && s.Text[len(s.Text)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "\n# virtdev's defaults.\nMatch all\n")
	for _, o := range defaults {
		fmt.Fprintf(&b, "%s %s\n", o.Keyword, o.Value)
	}
	return b.Bytes(), nil
}

// Option is one line of an OpenSSH configuration: a keyword and its
// value, quoted as the file needs it.
type Option struct{ Keyword, Value string }

// Defaults are virtdev's settings for every connection to machine m with
// the private key at key, whatever program makes it (see Assemble for
// the host key): the weakest part of a configuration, which the user's
// sources may override.
func Defaults(m layout.Machine, key string) ([]Option, error) {
	keyPath, err := QuotePath(key)
	if err != nil {
		return nil, err
	}
	knownHosts, err := QuotePath(m.KnownHosts)
	if err != nil {
		return nil, err
	}
	return []Option{
		{"User", "dev"},
		{"IdentityFile", keyPath},
		{"IdentitiesOnly", "yes"},
		{"HostKeyAlias", Alias(m.Name)},
		{"UserKnownHostsFile", knownHosts},
		{"GlobalKnownHostsFile", "/dev/null"},
		{"StrictHostKeyChecking", "yes"},
		{"UpdateHostKeys", "no"},
		{"CheckHostIP", "no"},
		{"ForwardAgent", "no"},
		{"ForwardX11", "no"},
		{"ControlMaster", "no"},
		{"ControlPath", "none"},
		{"PermitLocalCommand", "no"},
		{"LogLevel", "ERROR"},
	}, nil
}

// QuotePath quotes a path for an ssh_config line: double quotes keep
// spaces, and %% keeps ssh's token expansion away from a literal %.
func QuotePath(p string) (string, error) {
	if strings.ContainsAny(p, "\n\r\"") {
		return "", fmt.Errorf("the path %q cannot be written into an SSH configuration (it holds a quote or a line break); choose another VIRTDEV_HOME or VIRTDEV_SSH_KEY", p)
	}
	return `"` + strings.ReplaceAll(p, "%", "%%") + `"`, nil
}

// WriteConfig writes the configuration for one connection to a file of
// its own in the machine's directory: mode 600 (trigger output may hold
// secrets), a unique name (SSHConfig.<random>), so that connections at
// once, whose triggers may say different things, never read each other's.
// It is a file, not a pipe or memfd behind /dev/fd/N, because ssh closes
// every inherited descriptor above stderr before it reads its
// configuration.
//
// cleanup removes the file; call it once ssh has ended. The file is
// locked while its connection lasts, so that one left by a program that
// was killed is known for what it is: a later WriteConfig for the machine
// removes it.
func WriteConfig(m layout.Machine, config []byte) (path string, cleanup func(), err error) {
	removeLeftovers(m)
	f, err := os.CreateTemp(m.Dir, filepath.Base(m.SSHConfig)+".*")
	if err != nil {
		return "", nil, fmt.Errorf("cannot write the SSH configuration: %w", err)
	}
	path = f.Name()
	cleanup = func() {
		os.Remove(path)
		f.Close()
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("cannot lock %s: %w", path, err)
	}
	if _, err := f.Write(config); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	return path, cleanup, nil
}

// leftoverAge is how old a configuration must be before another program
// takes its missing lock for its owner's death: its creator locks it
// within microseconds of making it.
const leftoverAge = 10 * time.Second

// removeLeftovers removes the configurations whose connections are over
// without their program having cleaned up (it was killed): nothing holds
// their lock any more.
func removeLeftovers(m layout.Machine) {
	paths, _ := filepath.Glob(globEscape(m.SSHConfig) + ".*")
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		info, err := f.Stat()
		if err == nil && info.Mode().IsRegular() && time.Since(info.ModTime()) > leftoverAge &&
			unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.Remove(p)
		}
		f.Close()
	}
}

// globEscape keeps the metacharacters of a path from meaning anything to
// filepath.Glob.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
