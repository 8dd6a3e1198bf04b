# shellcheck shell=bash
# Sourced by the benchmarks of real guests (vm.sh, boot-at-once.sh): a
# private virtdev installation in a scratch directory, and timing helpers.
# The caller sets bin, the directory of the built programs.
#
#   guest_setup        makes $work and points virtdev's variables into it
#   guest_base         installs the base (from BENCH_BASE, a directory with
#                      system.qcow2, home.qcow2, nvram, id and id.pub, as the
#                      e2e suite caches them; else virtdev-bootstrap, whose
#                      time is printed as bootstrap_ms) and seals it
#   now, ms, median    nanosecond clock, milliseconds between two readings,
#                      median of the numbers on stdin

guest_setup() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/virtdev-bench.XXXXXX")
  export VIRTDEV_HOME=$work/data VIRTDEV_CACHE=$work/cache XDG_CONFIG_HOME=$work/config
  export VIRTDEV_SSH_KEY=$VIRTDEV_HOME/ssh/id VIRTDEV_WAIT_TIMEOUT=${VIRTDEV_WAIT_TIMEOUT:-600} VIRTDEV_ACCEL=${VIRTDEV_ACCEL:-auto}
  export VIRTDEV_VM_CPUS=${VIRTDEV_VM_CPUS:-2} VIRTDEV_VM_MEMORY=${VIRTDEV_VM_MEMORY:-1024}
}

guest_base() {
  if [ -n "${BENCH_BASE:-}" ]; then
    mkdir -p "$VIRTDEV_HOME/installation" "$VIRTDEV_HOME/ssh"
    cp "$BENCH_BASE"/{system.qcow2,home.qcow2,nvram} "$VIRTDEV_HOME/installation/"
    cp "$BENCH_BASE/id" "$BENCH_BASE/id.pub" "$VIRTDEV_HOME/ssh/"
    chmod 600 "$VIRTDEV_HOME/ssh/id"
  else
    "${bin:?}/virtdev-key" >/dev/null 2>&1
    local t0 t1
    t0=$(now); "$bin/virtdev-bootstrap" >/dev/null 2>"$work/bootstrap.log"; t1=$(now)
    echo "bootstrap_ms=$(ms "$t0" "$t1")"
  fi
  "$bin/virtdev-seal" >/dev/null 2>&1
}

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
