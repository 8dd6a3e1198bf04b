package unit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
)

// JournalSocket is where systemd-journald takes log entries while it runs;
// the output of the user's units goes there.
const JournalSocket = "/run/systemd/journal/socket"

// ErrNoJournal means there is no journal of the user's units to read:
// systemd-journald does not run, and journalctl --user finds no journal
// files from a time it did. journalctl alone would say "No journal files
// were found" on stderr and exit 0, which looks like an empty log.
var ErrNoJournal = errors.New("no journal of the user's units: systemd-journald does not run (" + JournalSocket + " is missing) and journalctl --user finds no journal files")

// ErrNoJournalctl means journalctl is not installed.
var ErrNoJournalctl = errors.New("journalctl is not on PATH; it comes with systemd (Debian: apt install systemd)")

// CheckJournal tells whether the journal of the calling user's units can
// be read, and returns the journalctl to read it with.
func CheckJournal(ctx context.Context) (string, error) {
	return checkJournal(ctx, JournalSocket)
}

func checkJournal(ctx context.Context, socket string) (string, error) {
	journalctl, err := exec.LookPath("journalctl")
	if err != nil {
		return "", ErrNoJournalctl
	}
	if _, err := os.Stat(socket); err == nil {
		return journalctl, nil
	}
	// --header lists the journal files journalctl --user would read,
	// without reading their entries.
	out, err := exec.CommandContext(ctx, journalctl, "--user", "--header").Output()
	if err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return "", ErrNoJournal
	}
	return journalctl, nil
}
