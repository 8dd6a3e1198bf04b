package main

import (
	"os/exec"
	"strings"
	"testing"

	"virtdev/tools/internal/docs"
)

// The programs that only look at machines run in a few milliseconds, of
// which the initialisation of the packages they link, and the pages it
// touches, was once the larger part (issue 7; bench/access.sh). They link
// none of these, each a package, or a prefix ending in "/" for a tree of
// them: the network stack (package net itself; net/url and net/netip are
// plain parsers), crypto, regexp, log, running or looking up other
// programs and users, the D-Bus and QMP clients, and the parts of virtdev
// that bring them.
var heavy = []string{
	"net", "crypto", "crypto/", "regexp", "regexp/", "log", "log/", "os/exec", "os/user",
	"github.com/godbus/", "github.com/coreos/", "github.com/digitalocean/",
	"virtdev/lib/qemu", "virtdev/lib/unit", "virtdev/lib/guest", "virtdev/lib/image", "virtdev/lib/delta",
}

// queries are those programs, with the two that read only the base's and
// the projects' generation files. (virtdev-pid reads its unit's cgroup
// through lib/unit, and so links godbus.)
var queries = []string{"virtdev-status", "virtdev-list", "virtdev-port", "virtdev-stale", "virtdev-generation"}

func TestQueriesLinkOnlyWhatTheyUse(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	root, err := docs.Root()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"list", "-f", `{{.Name}} {{.ImportPath}} {{join .Deps " "}}`}
	for _, q := range queries {
		args = append(args, "./tools/"+q)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(queries) {
		t.Fatalf("go list described %d packages, want %d:\n%s", len(lines), len(queries), out)
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "main" {
			t.Fatalf("go list: unexpected line %q", line)
		}
		for _, dep := range fields[2:] {
			for _, h := range heavy {
				if dep == h || strings.HasSuffix(h, "/") && strings.HasPrefix(dep, h) {
					t.Errorf("%s links %s", fields[1], dep)
					break
				}
			}
		}
	}
}
