#!/bin/bash
# virtdev-backup and virtdev-restore against plain rsync over the same SSH
# forward, key and rsync options, on one guest (tests/e2e BenchmarkBackup):
#   virtdev-backup-<data>-MB/s, rsync-backup-<data>-MB/s
#   virtdev-restore-<data>-MB/s, rsync-restore-<data>-MB/s
#   backup-<data>-ratio, restore-<data>-ratio
#                    virtdev's throughput over plain rsync's (the target is
#                    0.9 or more)
# for two data sets: a 50 MB file, and 10,000 files of 1 KiB.
#
#   bench/backup.sh [rounds]          (default 5; medians are reported)
#
# Run as an unprivileged user with a user bus (like make e2e); the guest's
# base comes from the e2e cache (VIRTDEV_E2E_CACHE) or is bootstrapped.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
make build >/dev/null
(cd tests && ${GO:-go} test -tags e2e -c -o ../bin/e2e.test ./e2e)
VIRTDEV_BIN=$PWD/bin ./bin/e2e.test -test.run '^$' -test.bench '^BenchmarkBackup$' \
  -test.benchtime "${rounds}x" -test.timeout 2h -test.v
