#!/bin/bash
# The machine's network (virtdev-supervise) against QEMU's built-in user
# networking, on one guest booted with both network cards (tests/e2e
# BenchmarkNetwork):
#   user-MB/s, stack-MB/s   200 MB pushed into the guest over SSH
#   stack/user-throughput   their ratio (the target is 0.8 or more)
#   user-ttfb-ms, stack-ttfb-ms
#                           median time to first byte of a request from the
#                           guest to a server on the host's 127.0.0.1
#                           (through 10.0.2.2, and through 192.168.127.1
#                           in zone full)
#
#   bench/netstack.sh [rounds]          (default 3)
#
# Run as an unprivileged user with a user bus (like make e2e); the guest's
# base comes from the e2e cache (VIRTDEV_E2E_CACHE) or is bootstrapped.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
make build >/dev/null
(cd tests && ${GO:-go} test -tags e2e -c -o ../bin/e2e.test ./e2e)
VIRTDEV_BIN=$PWD/bin ./bin/e2e.test -test.run '^$' -test.bench '^BenchmarkNetwork$' \
  -test.benchtime "${rounds}x" -test.timeout 2h -test.v
