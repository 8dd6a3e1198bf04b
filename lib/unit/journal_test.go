package unit

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// A stand-in journalctl lists journal files, or none.
func fakeJournalctl(t *testing.T, header string) {
	dir := t.TempDir()
	script := "#!/bin/sh\nprintf '%s' '" + header + "'\necho 'No journal files were found.' >&2\n"
	if err := os.WriteFile(filepath.Join(dir, "journalctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
}

func TestCheckJournal(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "socket")
	fakeJournalctl(t, "")
	if _, err := checkJournal(context.Background(), socket); !errors.Is(err, ErrNoJournal) {
		t.Errorf("no journald, no files: %v, want ErrNoJournal", err)
	}
	fakeJournalctl(t, "File path: /var/log/journal/x/user-1000.journal\n")
	if path, err := checkJournal(context.Background(), socket); err != nil || filepath.Base(path) != "journalctl" {
		t.Errorf("journal files from before: %q, %v", path, err)
	}
	fakeJournalctl(t, "")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := checkJournal(context.Background(), socket); err != nil {
		t.Errorf("journald runs: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := checkJournal(context.Background(), socket); !errors.Is(err, ErrNoJournalctl) {
		t.Errorf("without journalctl: %v", err)
	}
}
