//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smallFiles is how many files the small-file data set has, 1 KiB each.
const smallFiles = 10000

// benchData are the data sets, as the manifest names them under
// /home/dev, and the bytes each holds.
var benchData = []struct {
	name, path string
	bytes      int
}{
	{"50MB-file", "bench/big.bin", bigFile},
	{"10000-small-files", "bench/small/", smallFiles << 10},
}

// BenchmarkBackup weighs virtdev-backup and virtdev-restore against plain
// rsync over the same SSH forward, with the same key and the same rsync
// options, on one guest: a 50 MB file, and 10,000 files of 1 KiB in 100
// directories, read once before the rounds so that no round pays alone for
// a cold cache. Each iteration backs each data set up and restores it once
// each way, the order alternating; the figures are throughputs from the
// median time of each (other work on the host makes single rounds
// wander), and their ratios (virtdev over plain rsync). Run it with
// bench/backup.sh.
func BenchmarkBackup(b *testing.B) {
	s := newSuite(b)
	s.installation(b)
	s.ok(b, time.Minute, "virtdev-seal")
	const p = "backup-bench"
	s.ok(b, time.Minute, "virtdev-create", p)
	port, err := strconv.Atoi(strings.TrimSpace(s.ok(b, time.Minute, "virtdev-start", p)))
	if err != nil {
		b.Fatal(err)
	}
	s.ok(b, 6*time.Minute, "virtdev-wait", p)
	s.ok(b, 10*time.Minute, "virtdev-ssh", p, "--", `set -e
mkdir -p bench/small
head -c `+strconv.Itoa(bigFile)+` /dev/urandom > bench/big.bin
python3 -c '
import os
for d in range(100):
    os.makedirs("bench/small/%02d" % d, exist_ok=True)
    for f in range(`+strconv.Itoa(smallFiles/100)+`):
        with open("bench/small/%02d/%03d" % (d, f), "wb") as out:
            out.write(os.urandom(1024))
'
sync
# Read once, so that the first round does not alone pay for a cold cache.
cat bench/big.bin > /dev/null
find bench/small -type f -exec cat {} + > /dev/null`)
	manifest := filepath.Join(s.root, "config", "virtdev", "projects", p, "manifest")
	if err := os.MkdirAll(filepath.Dir(manifest), 0o755); err != nil {
		b.Fatal(err)
	}
	key := filepath.Join(s.home, "ssh", "id")
	args := sshArgs(key, port)
	remoteShell := "ssh " + strings.Join(args[:len(args)-1], " ") // all but the destination
	plain := func(b *testing.B, src, dst string) time.Duration {
		b.Helper()
		cmd := exec.Command("rsync", "--recursive", "--links", "--perms", "--times", "-e", remoteShell, src, dst)
		began := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("rsync %s %s: %v\n%s", src, dst, err, out)
		}
		return time.Since(began)
	}
	timed := func(b *testing.B, program string, args ...string) (string, time.Duration) {
		b.Helper()
		began := time.Now()
		out := s.ok(b, 30*time.Minute, program, args...)
		return strings.TrimSpace(out), time.Since(began)
	}

	seconds := map[string][]float64{}
	round := 0
	for b.Loop() {
		for _, d := range benchData {
			if err := os.WriteFile(manifest, []byte(d.path+"\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			guestPath := "/home/dev/" + strings.TrimSuffix(d.path, "/")
			copyDir := filepath.Join(s.root, "plain")
			ways := []string{"virtdev", "plain"}
			if round%2 == 1 {
				slices.Reverse(ways)
			}
			for _, way := range ways {
				os.RemoveAll(copyDir)
				var snapshot string
				var took time.Duration
				// Backup.
				if way == "virtdev" {
					snapshot, took = timed(b, "virtdev-backup", p)
				} else {
					if err := os.MkdirAll(copyDir, 0o700); err != nil {
						b.Fatal(err)
					}
					took = plain(b, "dev@127.0.0.1:"+guestPath, copyDir+"/")
				}
				seconds[way+" backup "+d.name] = append(seconds[way+" backup "+d.name], took.Seconds())
				b.Logf("round %d: %s backup of %s in %s", round+1, way, d.name, took.Round(time.Millisecond))
				// Restore, into a guest without the data.
				s.ok(b, 5*time.Minute, "virtdev-ssh", p, "rm", "-rf", guestPath)
				if way == "virtdev" {
					_, took = timed(b, "virtdev-restore", p)
					os.RemoveAll(snapshot)
				} else {
					took = plain(b, filepath.Join(copyDir, filepath.Base(guestPath)), "dev@127.0.0.1:"+filepath.Dir(guestPath)+"/")
				}
				seconds[way+" restore "+d.name] = append(seconds[way+" restore "+d.name], took.Seconds())
				b.Logf("round %d: %s restore of %s in %s", round+1, way, d.name, took.Round(time.Millisecond))
			}
		}
		round++
	}
	for _, d := range benchData {
		for _, op := range []string{"backup", "restore"} {
			v, pl := median(seconds["virtdev "+op+" "+d.name]), median(seconds["plain "+op+" "+d.name])
			mb := float64(d.bytes) / 1e6
			b.ReportMetric(mb/v, "virtdev-"+op+"-"+d.name+"-MB/s")
			b.ReportMetric(mb/pl, "rsync-"+op+"-"+d.name+"-MB/s")
			b.ReportMetric(pl/v, op+"-"+d.name+"-ratio")
			b.Logf("FIGURE %s of %s: virtdev %.2f MB/s, plain rsync %.2f MB/s, ratio %.2f (medians of %d rounds)",
				op, d.name, mb/v, mb/pl, pl/v, round)
		}
	}
}
