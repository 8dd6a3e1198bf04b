package sshx

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"virtdev/lib/exitcode"
	"virtdev/lib/fsutil"
	"virtdev/lib/layout"
)

// A machine's SSH host key is made on the host, never in the guest: the
// private half lives in the machine's directory (layout.Machine.HostKey)
// and is handed to the guest at every boot through fw_cfg, which only the
// guest's root can read; the public half is pinned in the machine's
// known_hosts under its alias before the guest ever boots. Every
// connection then checks the key strictly, the first one included, so
// whatever else answers on the machine's port (another user's program
// that took it, a machine left over from elsewhere) is refused rather
// than trusted.

// MakeHostKey makes a new ed25519 host key for machine name: the private
// half at private (mode 600, replacing any), the public half pinned in
// knownHosts under the machine's alias in place of what was pinned there.
func MakeHostKey(private, knownHosts, name string) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, Alias(name))
	if err != nil {
		return err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	// Pinned first: a key file whose public half is not pinned would be
	// refused, while a pin without its key file is made again (EnsureHostKey).
	if err := pin(knownHosts, Alias(name), signer.PublicKey()); err != nil {
		return err
	}
	if err := fsutil.WriteAtomic(private, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("cannot write the machine's SSH host key %s: %w", private, err)
	}
	return nil
}

// EnsureHostKey gives a machine a host key before it boots: it makes one
// when the machine has none (a project made before virtdev made host
// keys, the maintenance machine's new staging copy), and pins the key's
// public half in the machine's known_hosts when it is not pinned alone
// under the machine's alias already (a known_hosts removed or edited by
// hand). made tells whether the key is new.
func EnsureHostKey(m layout.Machine) (made bool, err error) {
	signer, err := loadHostKey(m.HostKey)
	if errors.Is(err, fs.ErrNotExist) {
		return true, MakeHostKey(m.HostKey, m.KnownHosts, m.Name)
	}
	if err != nil {
		return false, err
	}
	return false, pin(m.KnownHosts, Alias(m.Name), signer.PublicKey())
}

// HostKeyFingerprint is the SHA256 fingerprint of a machine's host key,
// as ssh-keygen -l shows it.
func HostKeyFingerprint(m layout.Machine) (string, error) {
	signer, err := loadHostKey(m.HostKey)
	if err != nil {
		return "", err
	}
	return ssh.FingerprintSHA256(signer.PublicKey()), nil
}

func loadHostKey(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("the machine's SSH host key %s cannot be read: %w\nRemove it, and the next virtdev-start makes a new one", path, err)
	}
	return signer, nil
}

// pin makes key the only one pinned under alias in the known_hosts file
// at path, which it creates (mode 644) if need be, leaving other entries
// alone.
func pin(path, alias string, key ssh.PublicKey) error {
	line := alias + " " + strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(key)), "\n")
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return fsutil.WriteAtomic(path, []byte(line+"\n"), 0o644)
	}
	return rewriteKnownHosts(path, func(lines []string) []string {
		pinned := 0
		for _, l := range lines {
			if _, hosts, _, ok := splitEntry(l); ok && anyHostMatches(hosts, alias) {
				pinned++
			}
		}
		if pinned == 1 && keys(lines, alias).has(key) {
			return lines
		}
		return append(dropAlias(lines, alias), line)
	})
}

// pinnedKeys are the keys a known_hosts file trusts for alias; marked
// entries (@revoked, @cert-authority) vouch for none.
type pinnedKeys []ssh.PublicKey

func keys(lines []string, alias string) pinnedKeys {
	var ks pinnedKeys
	for _, l := range lines {
		marker, hosts, rest, ok := splitEntry(l)
		if !ok || marker != "" || !anyHostMatches(hosts, alias) {
			continue
		}
		if k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(rest)); err == nil {
			ks = append(ks, k)
		}
	}
	return ks
}

func (ks pinnedKeys) has(key ssh.PublicKey) bool {
	for _, k := range ks {
		if k.Type() == key.Type() && bytes.Equal(k.Marshal(), key.Marshal()) {
			return true
		}
	}
	return false
}

// HostKeyError is a machine whose SSH server presented another host key
// than the one pinned for it, or a machine with no key pinned: virtdev
// refuses to talk to it. It is the shared condition
// exitcode.HostKeyMismatch.
type HostKeyError struct {
	Name       string
	Addr       string
	KnownHosts string
	Presented  string   // the fingerprint of the key the server presented
	Pinned     []string // the fingerprints of the keys pinned for it
}

func (e *HostKeyError) ExitCode() int { return exitcode.HostKeyMismatch.N }

func (e *HostKeyError) Error() string {
	if len(e.Pinned) == 0 {
		return fmt.Sprintf("no SSH host key is pinned for %s in %s, so no server can be trusted to be its guest\n"+
			"A start pins the machine's key again: virtdev-stop %s && virtdev-start %s",
			e.Name, e.KnownHosts, e.Name, e.Name)
	}
	return fmt.Sprintf("the SSH server on %s presented host key %s, not the key pinned for %s (%s in %s); virtdev refuses to talk to it\n"+
		"Something other than the guest of %s answers on its port, or the guest no longer serves the key virtdev handed it. Check:\n"+
		"  who listens on the port: ss -tlnp 'sport = :%s' (it should be virtdev-supervise, of the unit %s)\n"+
		"  whether the guest installed its key: virtdev-console %s, then systemctl status virtdev-ssh-host-key.service\n"+
		"A project's ssh_host_ed25519_key and known_hosts belong together: restore or copy them as a pair.\n"+
		"A guest of a base built before virtdev handed host keys serves a key of its own: rebuild the project on a new base (virtdev-recreate %s).",
		e.Addr, e.Presented, e.Name, strings.Join(e.Pinned, ", "), e.KnownHosts,
		e.Name, portOf(e.Addr), layout.Unit(e.Name), e.Name, e.Name)
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// HostKeyCallback accepts only the host keys pinned for t in its
// known_hosts; any other key fails the handshake with a *HostKeyError.
func HostKeyCallback(t Target) (ssh.HostKeyCallback, error) {
	data, err := os.ReadFile(t.Machine.KnownHosts)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cannot read the machine's known_hosts: %w", err)
	}
	pinned := keys(strings.Split(string(data), "\n"), t.Alias())
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if pinned.has(key) {
			return nil
		}
		e := &HostKeyError{Name: t.Name, Addr: t.Addr(), KnownHosts: t.Machine.KnownHosts, Presented: ssh.FingerprintSHA256(key)}
		for _, k := range pinned {
			e.Pinned = append(e.Pinned, ssh.FingerprintSHA256(k))
		}
		return e
	}, nil
}

// errKeyChecked ends a handshake once the host key has been checked.
var errKeyChecked = errors.New("host key checked")

// hostKeyCheckTime bounds CheckHostKey: a server that does not get as far
// as its key within it tells nothing.
const hostKeyCheckTime = 5 * time.Second

// CheckHostKey asks the SSH server on t's port for its host key and
// returns a *HostKeyError when the key is not the one pinned for t; nil
// when it is, or when no key could be had. Programs that run OpenSSH call
// it when ssh failed (status 255), so that a refused key is reported with
// its own exit code and what to check, rather than as any SSH failure.
func CheckHostKey(ctx context.Context, t Target) error {
	callback, err := HostKeyCallback(t)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, hostKeyCheckTime)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Addr())
	if err != nil {
		return nil
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var refused *HostKeyError
	_, _, _, err = ssh.NewClientConn(conn, t.Addr(), &ssh.ClientConfig{
		User: "dev",
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			if err := callback(host, remote, key); errors.As(err, &refused) {
				return err
			}
			return errKeyChecked
		},
	})
	if errors.As(err, &refused) {
		return refused
	}
	return nil
}
