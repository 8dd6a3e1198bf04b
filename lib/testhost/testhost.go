// Package testhost finds the host programs a test needs. Where one is
// missing, the test is skipped on a developer's machine but fails in CI
// (CI set, or VIRTDEV_REQUIRE_TOOLS=1), where .ci/packages installs them
// all: a check that silently skips there checks nothing.
package testhost

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// required reports whether missing tools fail tests instead of skipping
// them.
func required() bool {
	return os.Getenv("CI") != "" || os.Getenv("VIRTDEV_REQUIRE_TOOLS") == "1"
}

// sbinDirs hold tools that an unprivileged user's PATH often lacks.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// Tool returns the path of program, which the Debian package pkg
// provides, or ends the test.
func Tool(t testing.TB, program, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, program)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return p
		}
	}
	if required() {
		t.Fatalf("%s is not installed (Debian package %s; .ci/packages lists it)", program, pkg)
	}
	t.Skipf("%s is not installed (Debian: apt install %s)", program, pkg)
	return ""
}
