package backup

import (
	"context"

	"virtdev/lib/rsync"
)

// Restore copies an opened snapshot's paths into the guest's home over the
// link, over what is there: files the snapshot holds are replaced, others
// are left alone. It writes only under GuestHome: the paths are the
// snapshot's manifest's, checked again when it was opened. The caller
// holds the project's lock.
//
// rsync writes file by file, so a failure partway leaves some paths
// restored and others as they were; rsync's own check makes a second run
// skip what already matches.
func Restore(ctx context.Context, k Link, s Opened) (rsync.Stats, error) {
	stats, err := k.transfer(ctx, rsync.Transfer{
		Source: s.Snapshot.Tree + "/", Dest: k.guest(), Files: s.Manifest.Entries,
	})
	if err != nil {
		return stats, explain(err, true, k.Target.Name, s.ID)
	}
	if stats.Files == 0 {
		return stats, &NothingError{Source: s.Snapshot.Tree, Manifest: s.Snapshot.Manifest, Entries: s.Manifest.Entries}
	}
	return stats, nil
}
