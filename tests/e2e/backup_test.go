//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Exit codes of virtdev-backup and virtdev-recreate the suite pins.
const (
	backupNothing    = 19
	backupBadEscapes = 13
)

// treeDir is where the backup tests work in the guest, under /home/dev.
const treeDir = "e2e-backup"

// bigFile is the size of the one large file of the tree.
const bigFile = 50 << 20

// makeTree is a shell script that builds, under /home/dev/<dir>/tree, a
// tree with what a backup must carry whole: dotfiles, nested directories,
// a symbolic link, spaces and non-ASCII names, an empty directory, modes
// other than the default, an old modification time and a 50 MB file.
func makeTree(dir string) string {
	return `set -e
d=/home/dev/` + dir + `/tree
rm -rf /home/dev/` + dir + `
mkdir -p "$d/a/b/c/d" "$d/empty" "$d/.config/app" "$d/with space/ünïcödé ✓"
echo secret > "$d/.dotfile"; chmod 600 "$d/.dotfile"
echo nested > "$d/a/b/c/d/file"
touch -d '2020-02-02 02:02:02' "$d/a/b/c/d/file"
echo settings > "$d/.config/app/settings"
echo spaced > "$d/with space/ünïcödé ✓/naïve file.txt"
printf '#!/bin/sh\necho hi\n' > "$d/script.sh"; chmod 755 "$d/script.sh"
ln -s a/b/c/d/file "$d/link"
chmod 750 "$d/a"
head -c ` + strconv.Itoa(bigFile) + ` /dev/urandom > "$d/big.bin"
sync`
}

// listTree is a shell script that describes every entry under a directory
// (its first argument), sorted: type, mode, size, modification time and
// content checksum for files, mode and time for directories, the target
// for links (whose own times rsync does not promise). The same script runs
// in the guest and on the host, so the two lists compare line by line.
const listTree = `cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r f; do
  if [ -L "$f" ]; then printf 'link %s -> %s\n' "$f" "$(readlink "$f")"
  elif [ -d "$f" ]; then printf 'dir %s %s\n' "$(stat -c '%a %Y' "$f")" "$f"
  else printf 'file %s %s %s\n' "$(stat -c '%a %s %Y' "$f")" "$(sha256sum < "$f" | cut -c1-64)" "$f"; fi
done`

// guestTree lists a guest directory with listTree.
func (s *suite) guestTree(t *testing.T, project, dir string) string {
	t.Helper()
	return s.ok(t, 5*time.Minute, "virtdev-ssh", project, "--", "sh -c "+shellQuote(listTree)+" sh "+shellQuote(dir))
}

// hostTree lists a host directory with listTree.
func hostTree(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", listTree, "sh", dir).Output()
	if err != nil {
		t.Fatalf("listing %s: %v", dir, err)
	}
	return string(out)
}

// sameTree fails unless two listings are equal, and non-trivial.
func sameTree(t *testing.T, what, want, got string) {
	t.Helper()
	if !strings.Contains(want, "big.bin") || !strings.Contains(want, "link ./link -> a/b/c/d/file") {
		t.Fatalf("the tree's listing lacks what it was built with:\n%s", want)
	}
	if got != want {
		t.Fatalf("%s differs from the guest's tree:\n--- guest\n%s--- %s\n%s", what, want, what, got)
	}
}

var snapshotPath = regexp.MustCompile(`/backups/[^/]+/(\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d)\n$`)

// TestBackupRestore backs up a tree from the shared machine, checks the
// snapshot against the guest file by file, removes the tree in the guest
// and restores it; then the refusals and an interrupted backup.
func TestBackupRestore(t *testing.T) {
	s, p := sharedMachine(t)
	manifest := filepath.Join(s.root, "config", "virtdev", "projects", p, "manifest")
	t.Cleanup(func() {
		os.Remove(manifest)
		s.run(t, time.Minute, "virtdev-ssh", p, "rm", "-rf", "/home/dev/"+treeDir)
	})
	s.ok(t, 5*time.Minute, "virtdev-ssh", p, "--", makeTree(treeDir))
	home := "/home/dev/" + treeDir + "/tree"
	want := s.guestTree(t, p, home)

	// A name with wildcards in it, beside names they would match.
	s.ok(t, time.Minute, "virtdev-ssh", p, "--", "cd /home/dev/"+treeDir+" && echo listed > 'glob[1]*?' && echo decoy > glob1xy")

	// A path the guest does not have, beside real ones, is skipped.
	s.write(t, manifest, "# the backup tests' tree\n"+treeDir+"/tree/\n"+treeDir+"/absent\n"+treeDir+"/glob[1]*?\n")
	began := time.Now()
	r := s.run(t, 10*time.Minute, "virtdev-backup", p)
	took := time.Since(began)
	if r.code != 0 {
		t.Fatalf("virtdev-backup exited %d:\n%s", r.code, r.stderr)
	}
	t.Logf("FIGURE backup of a %d MB tree from the guest: %s (%.1f MB/s)", bigFile>>20, took.Round(100*time.Millisecond), float64(bigFile)/1e6/took.Seconds())
	if !strings.Contains(r.stderr, "/home/dev/"+treeDir+"/absent is not in the guest; skipped") {
		t.Errorf("the missing path was not reported:\n%s", r.stderr)
	}
	m := snapshotPath.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("virtdev-backup printed %q, not a snapshot's directory", r.stdout)
	}
	snapshot, id := strings.TrimSpace(r.stdout), m[1]
	sameTree(t, "the snapshot", want, hostTree(t, filepath.Join(snapshot, "tree", treeDir, "tree")))
	if got := s.read(t, filepath.Join(snapshot, "tree", treeDir, "glob[1]*?")); got != "listed\n" {
		t.Errorf("the file named with wildcards holds %q", got)
	}
	if _, err := os.Lstat(filepath.Join(snapshot, "tree", treeDir, "glob1xy")); err == nil {
		t.Error("a name with wildcards was taken for a pattern: a file it matches was backed up")
	}
	if got := s.read(t, filepath.Join(snapshot, "project")); got != p+"\n" {
		t.Errorf("the snapshot's project marker holds %q", got)
	}
	if got, base := s.read(t, filepath.Join(snapshot, "generation")), s.read(t, s.path(t, p, "generation")); got != base {
		t.Errorf("the snapshot records generation %q, the machine runs on %q", got, base)
	}
	if latest := strings.TrimSpace(s.ok(t, time.Minute, "virtdev-backup", "--latest", p)); latest != id {
		t.Errorf("--latest printed %q, want %q", latest, id)
	}

	// Gone from the guest, the tree comes back whole.
	s.ok(t, time.Minute, "virtdev-ssh", p, "rm", "-rf", home)
	began = time.Now()
	if got := strings.TrimSpace(s.ok(t, 10*time.Minute, "virtdev-restore", p)); got != id {
		t.Errorf("virtdev-restore printed %q, want the id %q", got, id)
	}
	took = time.Since(began)
	t.Logf("FIGURE restore of a %d MB tree into the guest: %s (%.1f MB/s)", bigFile>>20, took.Round(100*time.Millisecond), float64(bigFile)/1e6/took.Seconds())
	sameTree(t, "the restored tree", want, s.guestTree(t, p, home))

	// A changed file is put back by the snapshot named by its id; what
	// the snapshot does not hold stays.
	s.ok(t, time.Minute, "virtdev-ssh", p, "--", "echo changed > "+home+"/.dotfile && echo new > "+home+"/added")
	s.ok(t, 5*time.Minute, "virtdev-restore", p, id)
	if got := s.ok(t, time.Minute, "virtdev-ssh", p, "cat", home+"/.dotfile", home+"/added"); got != "secret\nnew\n" {
		t.Errorf("after restoring %s: %q", id, got)
	}
	s.ok(t, time.Minute, "virtdev-ssh", p, "rm", home+"/added")

	// Refusals: a manifest whose paths all are missing keeps nothing; one
	// that climbs out of /home/dev is refused before the guest is reached.
	s.write(t, manifest, treeDir+"/absent\n"+treeDir+"/also-absent/\n")
	s.refuses(t, backupNothing, "none of the 2 paths", "virtdev-backup", p)
	s.write(t, manifest, treeDir+"/../../etc/\n")
	s.refuses(t, backupBadEscapes, "line 1: '..' component", "virtdev-backup", p)
	if ids := snapshotIDs(s, p); len(ids) != 1 {
		t.Errorf("refused backups left snapshots: %q", ids)
	}

	// Interrupted: SIGINT removes the partial snapshot and says so;
	// SIGKILL leaves only a .partial, never a snapshot that looks
	// complete, which --list points out and the next backup removes.
	s.write(t, manifest, treeDir+"/tree/\n")
	if code, _ := s.interruptedBackup(t, p, syscall.SIGINT); code != 130 {
		t.Errorf("virtdev-backup interrupted by SIGINT exited %d, want 130", code)
	}
	if partials := partialSnapshots(s, p); len(partials) != 0 {
		t.Errorf("SIGINT left %q", partials)
	}
	s.interruptedBackup(t, p, syscall.SIGKILL)
	partials := partialSnapshots(s, p)
	if len(partials) != 1 {
		t.Fatalf("SIGKILL left %q, want one partial snapshot", partials)
	}
	if ids := snapshotIDs(s, p); len(ids) != 1 {
		t.Errorf("a killed backup left a snapshot that looks complete: %q", ids)
	}
	r = s.run(t, time.Minute, "virtdev-backup", "--list", p)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stderr, partials[0]+" is an unfinished snapshot") {
		t.Errorf("--list after a killed backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = s.run(t, 10*time.Minute, "virtdev-backup", p)
	if r.code != 0 || !strings.Contains(r.stderr, "removed "+partials[0]+", left by an interrupted backup") {
		t.Errorf("the backup after a killed one: exit %d\n%s", r.code, r.stderr)
	}
	if left := partialSnapshots(s, p); len(left) != 0 {
		t.Errorf("partial snapshots left: %q", left)
	}
	if ids := snapshotIDs(s, p); len(ids) != 2 {
		t.Errorf("snapshots %q, want two", ids)
	}
}

// interruptedBackup starts a backup, sends it sig once its partial
// snapshot exists and its transfer has begun, and returns its exit status
// and how long it ran.
func (s *suite) interruptedBackup(t *testing.T, project string, sig syscall.Signal) (int, time.Duration) {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "virtdev-backup"), project)
	cmd.Env = s.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(partialTrees(s, project)) == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no partial snapshot with content appeared within 2 minutes:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(sig)
	cmd.Wait()
	t.Logf("virtdev-backup sent %s after %s:\n%s", sig, time.Since(began).Round(time.Millisecond), stderr.String())
	return cmd.ProcessState.ExitCode(), time.Since(began)
}

// partialTrees are the partial snapshots into which rsync has begun to
// write.
func partialTrees(s *suite, project string) []string {
	var begun []string
	for _, p := range partialSnapshots(s, project) {
		if entries, _ := os.ReadDir(filepath.Join(p, "tree")); len(entries) > 0 {
			begun = append(begun, p)
		}
	}
	return begun
}

func partialSnapshots(s *suite, project string) []string {
	found, _ := filepath.Glob(filepath.Join(s.home, "backups", project, "*", "*.partial"))
	return found
}

func snapshotIDs(s *suite, project string) []string {
	found, _ := filepath.Glob(filepath.Join(s.home, "backups", project, "*", "*"))
	var ids []string
	for _, f := range found {
		if !strings.HasSuffix(f, ".partial") {
			ids = append(ids, strings.TrimPrefix(f, filepath.Join(s.home, "backups", project)+"/"))
		}
	}
	return ids
}

// Exit codes of virtdev-recreate the suite pins.
const recreateNeedsConfirmation = 10

// TestRecreate rebuilds a project that was never started, with one boot:
// its snapshot, as a backup of an earlier machine would have left it, is
// restored over what its provision script made, and the new machine runs
// on the base with both.
func TestRecreate(t *testing.T) {
	s := newSuite(t)
	s.installation(t)
	s.ok(t, time.Minute, "virtdev-seal")
	const p = "e2e-recreate"
	s.ok(t, time.Minute, "virtdev-create", p)
	old := filepath.Join(s.path(t, p), "old-machine")
	s.write(t, old, "the machine before\n")

	const id = "2026-01-02/03-04-05"
	snapshot := filepath.Join(s.home, "backups", p, id)
	tree := filepath.Join(snapshot, "tree")
	s.write(t, filepath.Join(snapshot, "project"), p+"\n")
	s.write(t, filepath.Join(snapshot, "generation"), "1\n")
	s.write(t, filepath.Join(snapshot, "manifest"), "state/\n.bash_history\n")
	s.write(t, filepath.Join(tree, ".bash_history"), "ls -la\n")
	s.write(t, filepath.Join(tree, "state", "order"), "snapshot\n")
	s.write(t, filepath.Join(tree, "state", "nested dir", "ünïcödé ✓"), "unicode\n")
	s.write(t, filepath.Join(tree, "state", "big.bin"), strings.Repeat("0123456789abcdef", 1<<16))
	for _, step := range []error{
		os.MkdirAll(filepath.Join(tree, "state", "empty"), 0o755),
		os.Symlink("nested dir/ünïcödé ✓", filepath.Join(tree, "state", "link")),
		os.Chmod(filepath.Join(tree, "state", "order"), 0o600),
		os.Chmod(filepath.Join(tree, "state", "nested dir"), 0o750),
		os.Chtimes(filepath.Join(tree, "state", "big.bin"), time.Time{}, time.Date(2020, 2, 2, 2, 2, 2, 0, time.UTC)),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	s.write(t, filepath.Join(s.root, "config", "virtdev", "projects", p, "provision"), `set -e
sudo install -m 644 /dev/null /usr/local/share/e2e-provisioned
echo "$(id -un) $(pwd)" > provision-ran
mkdir -p state
echo provision > state/order
`)
	// The project's zone file is honoured by the machine recreate starts,
	// as by virtdev-start. (Zone none: the provision script needs no
	// network.)
	s.write(t, filepath.Join(s.root, "config", "virtdev", "projects", p, "net"), "none\n")

	// Nothing is done without a terminal to confirm on, or --yes.
	s.refuses(t, recreateNeedsConfirmation, "confirmation is needed", "virtdev-recreate", "--no-backup", p)

	began := time.Now()
	r := s.run(t, 15*time.Minute, "virtdev-recreate", "--yes", "--no-backup", p)
	if r.code != 0 {
		t.Fatalf("virtdev-recreate exited %d:\n%s", r.code, r.stderr)
	}
	t.Logf("FIGURE recreate of a stopped project (destroy, create, boot to SSH, provision, restore): %s", time.Since(began).Round(100*time.Millisecond))
	for _, want := range []string{"--  backup     (skipped: --no-backup)", "--  stop       (skipped: the machine is stopped)",
		"[6/6] restore " + id, "Project " + p + " recreated, snapshot " + id + " restored"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("virtdev-recreate did not say %q", want)
		}
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the old machine's files survived: %v", err)
	}
	if !strings.Contains(r.stderr, "network zone none") {
		t.Errorf("virtdev-recreate did not start %s in the zone its net file names (none)", p)
	}
	if got, base := s.read(t, s.path(t, p, "generation")), s.read(t, s.path(t, "base", "generation")); got != base {
		t.Errorf("the new machine's generation %q is not the base's %q", got, base)
	}
	// The provision script ran as dev in /home/dev, before the restore,
	// whose files won.
	if got := s.ok(t, time.Minute, "virtdev-ssh", p, "--", "test -f /usr/local/share/e2e-provisioned && cat provision-ran state/order"); got != "dev /home/dev\nsnapshot\n" {
		t.Errorf("after the recreate the guest says %q", got)
	}
	want := hostTree(t, filepath.Join(tree, "state"))
	if !strings.Contains(want, "link ./link -> nested dir/ünïcödé ✓") {
		t.Fatalf("the snapshot's listing lacks its link:\n%s", want)
	}
	if got := s.guestTree(t, p, "/home/dev/state"); got != want {
		t.Errorf("the restored state differs from the snapshot:\n--- snapshot\n%s--- guest\n%s", want, got)
	}
	if got := s.ok(t, time.Minute, "virtdev-ssh", p, "cat", ".bash_history"); got != "ls -la\n" {
		t.Errorf(".bash_history holds %q", got)
	}
}
