//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// guestCheck is one command run in the guest, and what its output must
// contain.
type guestCheck struct {
	command string
	want    string
}

// TestGuest checks, on the shared machine, what a developer finds in a new
// base: the toolset, and the time zone, locale and keymap of
// baseSettings, in the spellings Debian uses.
func TestGuest(t *testing.T) {
	s, p := sharedMachine(t)

	checks := []guestCheck{
		// What issue 13 asks of every base.
		{"git --version", "git version "},
		{"cc --version", "(Debian "},
		{"make --version", "GNU Make"},
		{"curl --version", "curl "},
		{"python3 -m venv /tmp/v && /tmp/v/bin/pip --version", "/tmp/v/lib/python3"},
		{"node --version", "v"},
		{"rg --version", "ripgrep "},
		{"tmux -V", "tmux "},
		// HTTPS needs the certificates, a Recommends of curl's library.
		{"test -s /etc/ssl/certs/ca-certificates.crt && echo present", "present"},
		// The seed's names for tools Debian renamed.
		{"fd --version", "fdfind "},
		{"bat --version", "bat "},
		{"python --version", "Python 3"},
		// The time zone.
		{"date +%Z", "JST"},
		{"timedatectl show --property=Timezone", "Timezone=Asia/Tokyo"},
		// The locale, generated and the system's default; glibc's spelling
		// en_GB.utf8 arrived as Debian's en_GB.UTF-8.
		{"cat /etc/default/locale", "LANG=en_GB.UTF-8"},
		{"localectl status", "LANG=en_GB.UTF-8"},
		{"locale -a", "en_GB.utf8"},
		{`test -z "$(LC_ALL=en_GB.UTF-8 locale 2>&1 >/dev/null)" && echo no complaints`, "no complaints"},
		// The keymap: the X11 layout gb became the console keymap uk, which
		// was loaded at boot (shift+3 gives a pound sign, not #).
		{"cat /etc/vconsole.conf", "KEYMAP=uk"},
		{"localectl status", "VC Keymap: uk"},
		{"sudo loadkeys -q --parse uk && echo parsed", "parsed"},
		{"systemctl is-active virtdev-keymap.service", "active"},
		{"sudo dumpkeys -C /dev/tty1 | grep -E '^keycode +4 ='", "sterling"},
	}
	results := runChecks(t, s, p, checks)
	for i, c := range checks {
		r := results[i]
		if r.code != 0 || !strings.Contains("\n"+r.output, c.want) {
			t.Errorf("in the guest, %s exited %d, want 0 and output containing %q:\n%s", c.command, r.code, c.want, r.output)
		}
	}
}

type checkResult struct {
	code   int
	output string
}

// runChecks runs every check in one SSH session, since each connection
// costs seconds under emulation, and splits what came back by check.
func runChecks(t *testing.T, s *suite, project string, checks []guestCheck) []checkResult {
	t.Helper()
	const mark = "@@virtdev-check@@"
	var script strings.Builder
	for i, c := range checks {
		fmt.Fprintf(&script, "echo %s%d; ( %s ) 2>&1; echo %s$?\n", mark, i, c.command, mark)
	}
	out := s.ok(t, 5*time.Minute, "virtdev-ssh", project, "--", script.String())
	results := make([]checkResult, len(checks))
	for i := range results {
		results[i] = checkResult{-1, "(no result: the session ended before it)"}
	}
	// Sections alternate: a check's number and output, then its status.
	parts := strings.Split(out, mark)[1:]
	for j := 0; j+1 < len(parts); j += 2 {
		var i, code int
		if _, err := fmt.Sscanf(parts[j], "%d\n", &i); err != nil || i < 0 || i >= len(checks) {
			continue
		}
		if _, err := fmt.Sscanf(parts[j+1], "%d", &code); err == nil {
			results[i] = checkResult{code, parts[j][strings.IndexByte(parts[j], '\n')+1:]}
		}
	}
	return results
}
