package backup

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"virtdev/lib/exitcode"
	"virtdev/lib/rsync"
	"virtdev/lib/sshx"
)

func TestFailureOf(t *testing.T) {
	refused := exitcode.New(exitcode.TriggerRefused, "pre-ssh trigger refused")
	for _, tc := range []struct {
		err  error
		want Failure
	}{
		{rsync.ErrMissing, MissingTool},
		{&ConnectError{Name: "p", Err: sshx.ErrNoSSH}, MissingTool},
		{explain(&rsync.Error{Status: 23, Class: rsync.Partial}, false, "p", ""), PartialTransfer},
		{explain(&rsync.Error{Status: 255, Class: rsync.Transport}, true, "p", "id"), LostConnection},
		{explain(&rsync.Error{Status: 2, Class: rsync.Other}, false, "p", ""), RsyncFailed},
		{&NothingError{}, NothingFound},
		{&WriteError{errors.New("disk full")}, CannotWrite},
		{&ConnectError{Name: "p", Err: errors.New("bad path")}, SSHConfig},
		// A refusing trigger keeps its shared code.
		{&ConnectError{Name: "p", Err: refused}, Unclassified},
		{fmt.Errorf("other"), Unclassified},
	} {
		if got := FailureOf(tc.err); got != tc.want {
			t.Errorf("FailureOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// The messages tell what a failure left: nothing of a backup, a guest's
// home that may be half-merged after a restore, and how to retry.
func TestTransferErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		restore bool
		class   rsync.Class
		want    []string
	}{
		{false, rsync.Partial, []string{"rsync exit 23: partial transfer", "copied 4 files", "partial snapshot was removed"}},
		{false, rsync.Transport, []string{"SSH connection to p failed", "virtdev-backup p"}},
		{false, rsync.Other, []string{"rsync failed during the backup of p", "partial snapshot was removed"}},
		{true, rsync.Partial, []string{"4 files were restored", "half-merged", "virtdev-restore p 2026-01-02/03-04-05"}},
		{true, rsync.Transport, []string{"If it was lost partway", "half-merged", "virtdev-restore p 2026-01-02/03-04-05"}},
		{true, rsync.Other, []string{"If it stopped partway", "half-merged"}},
	} {
		status := map[rsync.Class]int{rsync.Partial: 23, rsync.Transport: 255, rsync.Other: 2}[tc.class]
		err := explain(&rsync.Error{Status: status, Class: tc.class, Stats: rsync.Stats{Transferred: 4}}, tc.restore, "p", "2026-01-02/03-04-05")
		for _, want := range tc.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("restore %v, %v: %q lacks %q", tc.restore, tc.class, err, want)
			}
		}
	}
}
