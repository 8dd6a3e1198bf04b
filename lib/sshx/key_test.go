package sshx

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"virtdev/lib/exitcode"
)

func TestGenerateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home", "ssh")
	priv, pub := filepath.Join(dir, "id"), filepath.Join(dir, "id.pub")
	if err := GenerateKey(priv, pub, "virtdev@test"); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, priv: 0o600, pub: 0o644} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, info.Mode(), want)
		}
	}
	signer, err := LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	line, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	public, comment, _, rest, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		t.Fatalf("public key %q: %v", line, err)
	}
	if public.Type() != ssh.KeyAlgoED25519 || comment != "virtdev@test" || len(rest) != 0 {
		t.Errorf("public key: type %s, comment %q, rest %q", public.Type(), comment, rest)
	}
	if !bytes.Equal(public.Marshal(), signer.PublicKey().Marshal()) {
		t.Error("the public key does not match the private key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestGenerateKeyRefusesToOverwrite(t *testing.T) {
	for _, existing := range []string{"id", "id.pub"} {
		t.Run(existing, func(t *testing.T) {
			dir := t.TempDir()
			priv, pub := filepath.Join(dir, "id"), filepath.Join(dir, "id.pub")
			path := filepath.Join(dir, existing)
			if err := os.WriteFile(path, []byte("mine"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := GenerateKey(priv, pub, "c")
			var exists *KeyExistsError
			if !errors.As(err, &exists) || exists.Path != path || !errors.Is(err, ErrKeyExists) {
				t.Fatalf("got %v, want a KeyExistsError for %s", err, path)
			}
			if data, _ := os.ReadFile(path); string(data) != "mine" {
				t.Errorf("%s was replaced", path)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}

// A file that appears between the check and the link is not replaced, and
// the half already linked is taken back.
func TestPublishRefusesARacingFile(t *testing.T) {
	dir := t.TempDir()
	temp := filepath.Join(dir, "tmp")
	target := filepath.Join(dir, "id.pub")
	os.WriteFile(temp, []byte("new"), 0o644)
	os.WriteFile(target, []byte("theirs"), 0o644)
	var exists *KeyExistsError
	if err := publish(temp, target); !errors.As(err, &exists) {
		t.Fatalf("got %v, want a KeyExistsError", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "theirs" {
		t.Error("the racing file was replaced")
	}
}

func TestCheckKey(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	if code := exitcode.For(CheckKey(key)); code != exitcode.KeyMissing.N {
		t.Errorf("missing key: exit %d, want %d", code, exitcode.KeyMissing.N)
	}
	if code := exitcode.For(CheckKey(dir)); code != exitcode.KeyMissing.N {
		t.Errorf("a directory: exit %d, want %d", code, exitcode.KeyMissing.N)
	}
	os.WriteFile(key, []byte("k"), 0o600)
	for mode, want := range map[os.FileMode]int{
		0o600: 0, 0o400: 0,
		0o644: exitcode.KeyPermissions.N, 0o640: exitcode.KeyPermissions.N,
		0o700: 0, 0o604: exitcode.KeyPermissions.N, 0o610: exitcode.KeyPermissions.N,
	} {
		os.Chmod(key, mode)
		err := CheckKey(key)
		if code := exitcode.For(err); code != want {
			t.Errorf("mode %o: exit %d, want %d", mode, code, want)
		}
		if want != 0 && !strings.Contains(err.Error(), "chmod 600 "+key) {
			t.Errorf("mode %o: the message lacks the fix: %v", mode, err)
		}
	}
}

func TestLoadSignerRefusesPassphrase(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "c", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id")
	os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
	if _, err := LoadSigner(path); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("got %v, want a passphrase error", err)
	}
}

// The states a key generation killed between its steps leaves: RecoverKey
// completes a pair whose missing half is in a temporary file, and removes
// every other temporary file.
func TestRecoverKey(t *testing.T) {
	// halves writes a pair as GenerateKey would, then puts the halves
	// named in temps back into temporary files, as if not linked yet.
	halves := func(t *testing.T, temps ...string) (dir, priv, pub string) {
		dir = t.TempDir()
		priv, pub = filepath.Join(dir, "id"), filepath.Join(dir, "id.pub")
		if err := GenerateKey(priv, pub, "c"); err != nil {
			t.Fatal(err)
		}
		for _, name := range temps {
			if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, "."+name+".tmp-123")); err != nil {
				t.Fatal(err)
			}
		}
		return dir, priv, pub
	}
	for _, tc := range []struct {
		name     string
		temps    []string
		complete bool
	}{
		{"killed between the links", []string{"id"}, true},
		{"killed between the links, older order", []string{"id.pub"}, true},
		{"killed before the links", []string{"id", "id.pub"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, priv, pub := halves(t, tc.temps...)
			done, completed, err := RecoverKey(priv, pub)
			if err != nil {
				t.Fatal(err)
			}
			if completed != tc.complete || len(done) == 0 {
				t.Errorf("RecoverKey = %q, completed %v, want completed %v", done, completed, tc.complete)
			}
			entries, _ := os.ReadDir(dir)
			want := 0
			if tc.complete {
				want = 2
				if !pair(priv, pub) {
					t.Error("the completed files are not one key pair")
				}
			}
			if len(entries) != want {
				t.Errorf("left %v, want %d files", entries, want)
			}
		})
	}
	// A temporary file that is not the other half of the pair in place is
	// removed, never linked.
	dir, priv, pub := halves(t, "id")
	other := filepath.Join(t.TempDir(), "other")
	if err := GenerateKey(other, other+".pub", "c"); err != nil {
		t.Fatal(err)
	}
	temp := filepath.Join(dir, ".id.tmp-123")
	os.Remove(temp)
	if err := os.Rename(other, temp); err != nil {
		t.Fatal(err)
	}
	if _, completed, err := RecoverKey(priv, pub); err != nil || completed {
		t.Errorf("RecoverKey with a foreign private key: completed %v, %v", completed, err)
	}
	if _, err := os.Lstat(priv); err == nil {
		t.Error("a foreign private key was linked")
	}
}
