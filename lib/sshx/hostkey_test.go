package sshx

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"virtdev/lib/exitcode"
	"virtdev/lib/layout"
)

func hostKeyMachine(t *testing.T) layout.Machine {
	t.Helper()
	return layout.MachineAt("p", t.TempDir())
}

func TestMakeHostKeyPinsItsPublicHalf(t *testing.T) {
	m := hostKeyMachine(t)
	if err := MakeHostKey(m.HostKey, m.KnownHosts, m.Name); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(m.HostKey)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("host key %v, %v; want mode 600", info, err)
	}
	signer, err := loadHostKey(m.HostKey)
	if err != nil {
		t.Fatal(err)
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Errorf("host key of type %s, want ed25519", signer.PublicKey().Type())
	}
	pinned, _ := os.ReadFile(m.KnownHosts)
	want := "virtdev-p " + string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
	if string(pinned) != want {
		t.Errorf("known_hosts:\n%s\nwant:\n%s", pinned, want)
	}
	// OpenSSH reads the file as it reads its own.
	if _, hosts, _, _, _, err := ssh.ParseKnownHosts(pinned); err != nil || len(hosts) != 1 || hosts[0] != "virtdev-p" {
		t.Errorf("ssh.ParseKnownHosts: %v, %v", hosts, err)
	}
}

func TestEnsureHostKey(t *testing.T) {
	m := hostKeyMachine(t)
	made, err := EnsureHostKey(m)
	if err != nil || !made {
		t.Fatalf("first EnsureHostKey: made %v, %v; want a new key", made, err)
	}
	key, _ := os.ReadFile(m.HostKey)
	pinned, _ := os.ReadFile(m.KnownHosts)

	made, err = EnsureHostKey(m)
	if err != nil || made {
		t.Fatalf("second EnsureHostKey: made %v, %v; want the key kept", made, err)
	}
	if again, _ := os.ReadFile(m.HostKey); string(again) != string(key) {
		t.Error("the key changed")
	}
	if again, _ := os.ReadFile(m.KnownHosts); string(again) != string(pinned) {
		t.Errorf("known_hosts rewritten:\n%s", again)
	}

	// A known_hosts that pins another key too, or lost the pin, is put
	// right; other hosts' entries stay.
	other := "virtdev-p ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
	if err := os.WriteFile(m.KnownHosts, []byte("elsewhere "+other[len("virtdev-p "):]+other), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureHostKey(m); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(m.KnownHosts)
	if want := "elsewhere " + other[len("virtdev-p "):] + string(pinned); string(got) != want {
		t.Errorf("known_hosts:\n%s\nwant:\n%s", got, want)
	}
}

func TestEnsureHostKeyRefusesAnUnreadableKey(t *testing.T) {
	m := hostKeyMachine(t)
	os.WriteFile(m.HostKey, []byte("not a key\n"), 0o600)
	if _, err := EnsureHostKey(m); err == nil || !strings.Contains(err.Error(), m.HostKey) {
		t.Errorf("got %v, want the unreadable key named", err)
	}
}

// sshServer serves SSH on 127.0.0.1 with a host key of its own, and lets
// nobody in.
func sshServer(t *testing.T) (addr string, key ssh.Signer) {
	t.Helper()
	key = newSigner(t)
	config := &ssh.ServerConfig{PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) {
		return nil, errors.New("nobody gets in")
	}}
	config.AddHostKey(key)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				ssh.NewServerConn(c, config)
				c.Close()
			}()
		}
	}()
	return l.Addr().String(), key
}

func hostKeyTarget(t *testing.T, addr string) Target {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	m := hostKeyMachine(t)
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return Target{Name: m.Name, Machine: m, Port: n}
}

func pinKey(t *testing.T, tg Target, key ssh.PublicKey) {
	t.Helper()
	if err := pin(tg.Machine.KnownHosts, tg.Alias(), key); err != nil {
		t.Fatal(err)
	}
}

func TestCheckHostKey(t *testing.T) {
	addr, key := sshServer(t)
	tg := hostKeyTarget(t, addr)

	// Nothing pinned: nothing can be the machine.
	var refused *HostKeyError
	if err := CheckHostKey(context.Background(), tg); !errors.As(err, &refused) || len(refused.Pinned) != 0 {
		t.Fatalf("no pinned key: got %v, want a HostKeyError with nothing pinned", err)
	}
	if !strings.Contains(refused.Error(), "virtdev-start p") {
		t.Errorf("the message does not say how the key gets pinned again: %s", refused)
	}

	pinKey(t, tg, key.PublicKey())
	if err := CheckHostKey(context.Background(), tg); err != nil {
		t.Errorf("the pinned key: got %v, want nil", err)
	}

	impostor := newSigner(t)
	pinKey(t, tg, impostor.PublicKey())
	err := CheckHostKey(context.Background(), tg)
	if !errors.As(err, &refused) {
		t.Fatalf("another key: got %v, want a HostKeyError", err)
	}
	if code, _ := exitcode.Of(err); code != exitcode.HostKeyMismatch.N {
		t.Errorf("exit code %d, want %d", code, exitcode.HostKeyMismatch.N)
	}
	msg := err.Error()
	for _, want := range []string{ssh.FingerprintSHA256(key.PublicKey()), ssh.FingerprintSHA256(impostor.PublicKey()),
		addr, tg.Machine.KnownHosts, "ss -tlnp", "virtdev-console p"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message does not mention %q:\n%s", want, msg)
		}
	}
}

// No server, or one that speaks no SSH, tells nothing about the key.
func TestCheckHostKeyWithoutAnswer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tg := hostKeyTarget(t, addr)
	pinKey(t, tg, newSigner(t).PublicKey())
	if err := CheckHostKey(context.Background(), tg); err != nil {
		t.Errorf("a server that hangs up: got %v, want nil", err)
	}
	l.Close()
	if err := CheckHostKey(context.Background(), tg); err != nil {
		t.Errorf("no server: got %v, want nil", err)
	}
}

func TestHostKeyCallbackIgnoresMarkedEntries(t *testing.T) {
	addr, key := sshServer(t)
	tg := hostKeyTarget(t, addr)
	line := "@revoked virtdev-p " + string(ssh.MarshalAuthorizedKey(key.PublicKey()))
	if err := os.WriteFile(filepath.Join(tg.Machine.KnownHosts), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	var refused *HostKeyError
	if err := CheckHostKey(context.Background(), tg); !errors.As(err, &refused) {
		t.Errorf("a revoked key: got %v, want a HostKeyError", err)
	}
}
