package sshx

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/ssh/knownhosts"

	"virtdev/lib/fsutil"
)

// A machine's known_hosts pins its host key under its alias (see
// Assemble), so a renamed machine keeps its key only if the entries follow
// the new alias. Renaming is done in two steps that each leave the key
// pinned under the name the machine has at that moment: first the entries
// are copied to the new alias (both names pinned), then, once the machine
// carries its new name, the old alias's entries go. Both steps can be
// repeated without harm, which is what recovering from an interrupted move
// needs.

// CopyHostAlias adds, for every entry of path pinned under alias from, the
// same entry under alias to, replacing any entries to had. Entries stay
// hashed when they were (HashKnownHosts), with a new salt. A missing file
// (a machine never connected to) needs nothing.
func CopyHostAlias(path, from, to string) error {
	return rewriteKnownHosts(path, func(lines []string) []string {
		lines = dropAlias(lines, to)
		var copies []string
		for _, line := range lines {
			marker, hosts, rest, ok := splitEntry(line)
			if !ok || !anyHostMatches(hosts, from) {
				continue
			}
			host := to
			if strings.HasPrefix(hosts, "|") {
				host = knownhosts.HashHostname(to)
			}
			copies = append(copies, marker+host+" "+rest)
		}
		return append(lines, copies...)
	})
}

// DropHostAlias removes alias from every entry of path, and the entries
// that pinned the key under no other name.
func DropHostAlias(path, alias string) error {
	return rewriteKnownHosts(path, func(lines []string) []string { return dropAlias(lines, alias) })
}

func dropAlias(lines []string, alias string) []string {
	var kept []string
	for _, line := range lines {
		marker, hosts, rest, ok := splitEntry(line)
		if !ok {
			kept = append(kept, line)
			continue
		}
		var others []string
		for _, h := range strings.Split(hosts, ",") {
			if !hostMatches(h, alias) {
				others = append(others, h)
			}
		}
		switch {
		case len(others) == len(strings.Split(hosts, ",")):
			kept = append(kept, line)
		case len(others) > 0:
			kept = append(kept, marker+strings.Join(others, ",")+" "+rest)
		}
	}
	return kept
}

// splitEntry cuts a known_hosts line into its optional marker
// (@cert-authority, @revoked), its host list and the key that follows.
// Comments and blank lines are no entries.
func splitEntry(line string) (marker, hosts, rest string, ok bool) {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return "", "", "", false
	}
	if strings.HasPrefix(trimmed, "@") {
		m, after, found := strings.Cut(trimmed, " ")
		if !found {
			return "", "", "", false
		}
		marker, trimmed = m+" ", strings.TrimLeft(after, " \t")
	}
	hosts, rest, found := strings.Cut(trimmed, " ")
	if !found {
		return "", "", "", false
	}
	return marker, hosts, strings.TrimLeft(rest, " \t"), true
}

func anyHostMatches(hosts, alias string) bool {
	for _, h := range strings.Split(hosts, ",") {
		if hostMatches(h, alias) {
			return true
		}
	}
	return false
}

// hostMatches tells whether one host field names alias, in the clear or
// hashed as OpenSSH hashes it: |1|base64(salt)|base64(HMAC-SHA1(salt, host)).
func hostMatches(field, alias string) bool {
	if !strings.HasPrefix(field, "|") {
		return field == alias
	}
	parts := strings.Split(field, "|")
	if len(parts) != 4 || parts[1] != "1" {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[2])
	hash, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(alias))
	return hmac.Equal(mac.Sum(nil), hash)
}

// rewriteKnownHosts replaces the file in one step, keeping its mode, and
// leaves it alone when nothing changes.
func rewriteKnownHosts(path string, edit func([]string) []string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	text := strings.TrimSuffix(string(data), "\n")
	var lines []string
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	lines = edit(lines)
	out := []byte(strings.Join(lines, "\n"))
	if len(lines) > 0 {
		out = append(out, '\n')
	}
	if bytes.Equal(out, data) {
		return nil
	}
	return fsutil.WriteAtomic(path, out, info.Mode().Perm())
}
