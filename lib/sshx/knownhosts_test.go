package sshx_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"

	"virtdev/lib/sshx"
)

const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKmk9tnNYCbhq3nDDUCdYYTRx8d6D+Sy9hwFqzbDNAcd"

func TestHostAliasRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_hosts")
	hashed := knownhosts.HashHostname("virtdev-a")
	before := strings.Join([]string{
		"# pinned by virtdev-ssh",
		"virtdev-a " + key,
		"virtdev-a,[127.0.0.1]:2222 " + key,
		hashed + " " + key,
		"@revoked virtdev-a " + key,
		"virtdev-other " + key,
		"",
	}, "\n")
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}

	// Copying twice is copying once.
	for range 2 {
		if err := sshx.CopyHostAlias(path, "virtdev-a", "virtdev-b"); err != nil {
			t.Fatal(err)
		}
	}
	both := read(t, path)
	if !strings.HasPrefix(both, before) {
		t.Errorf("the old entries changed:\n%s", both)
	}
	added := strings.Split(strings.TrimSuffix(strings.TrimPrefix(both, before), "\n"), "\n")
	if len(added) != 4 || added[0] != "virtdev-b "+key || added[1] != "virtdev-b "+key ||
		!strings.HasPrefix(added[2], "|1|") || strings.HasPrefix(added[2], hashed) || added[3] != "@revoked virtdev-b "+key {
		t.Errorf("added under the new alias:\n%s", strings.Join(added, "\n"))
	}

	if err := sshx.DropHostAlias(path, "virtdev-a"); err != nil {
		t.Fatal(err)
	}
	after := read(t, path)
	for _, want := range []string{"# pinned by virtdev-ssh\n", "[127.0.0.1]:2222 " + key + "\n", "virtdev-other " + key + "\n", "@revoked virtdev-b " + key + "\n"} {
		if !strings.Contains(after, want) {
			t.Errorf("%q is missing after the old alias went:\n%s", want, after)
		}
	}
	if strings.Contains(after, "virtdev-a") || strings.Contains(after, hashed) {
		t.Errorf("the old alias is still pinned:\n%s", after)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", info.Mode())
	}

	// Dropping the new alias undoes the copy, to the byte.
	os.WriteFile(path, []byte(before), 0o600)
	sshx.CopyHostAlias(path, "virtdev-a", "virtdev-b")
	if err := sshx.DropHostAlias(path, "virtdev-b"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != before {
		t.Errorf("copy then drop of the new alias:\n%s\nwant\n%s", got, before)
	}
}

// A machine never connected to has no known_hosts, and needs nothing.
func TestHostAliasNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := sshx.CopyHostAlias(path, "virtdev-a", "virtdev-b"); err != nil {
		t.Fatal(err)
	}
	if err := sshx.DropHostAlias(path, "virtdev-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a known_hosts appeared: %v", err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
