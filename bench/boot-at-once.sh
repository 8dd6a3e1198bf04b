#!/bin/bash
# Boot time to SSH of projects started at once, on this host:
#   boot_N_ms      from N virtdev-start run at the same moment until the
#                  last virtdev-wait returns (N = 1, 2 and 4 by default),
#                  with each machine's own time beside it
#
#   bench/boot-at-once.sh [rounds] [counts...]   (default 1 round of 1 2 4)
#
# Run as an unprivileged user with a user bus, after `make`. BENCH_BASE may
# name a directory with system.qcow2, home.qcow2, nvram, id and id.pub (the
# e2e suite's cache entries have that shape) to skip the bootstrap. The
# machines get VIRTDEV_VM_CPUS (default 2) and VIRTDEV_VM_MEMORY (default
# 1024) each, as the e2e suite's do.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 4)
bin=$PWD/bin
for p in virtdev-key virtdev-bootstrap virtdev-seal virtdev-create virtdev-start virtdev-wait virtdev-stop; do
  [ -x "$bin/$p" ] || { echo "bench: $bin/$p is missing: run make first" >&2; exit 1; }
done

# shellcheck source=bench/guest.sh
. bench/guest.sh
VIRTDEV_WAIT_TIMEOUT=900 guest_setup
max=0
for n in "${counts[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
projects=()
for i in $(seq "$max"); do projects+=("bench-at-once-$$-$i"); done
cleanup() {
  for p in "${projects[@]}"; do "$bin/virtdev-stop" "$p" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
guest_base
for p in "${projects[@]}"; do "$bin/virtdev-create" "$p" >/dev/null 2>&1; done

# boot N: starts N machines at once, each followed by its wait, and prints
# the time until the last wait returned, then each machine's own.
boot() {
  local n=$1 t0 pids=() own=()
  t0=$(now)
  for p in "${projects[@]:0:$n}"; do
    ( "$bin/virtdev-start" "$p" >/dev/null 2>"$work/$p.log" && "$bin/virtdev-wait" "$p" 2>>"$work/$p.log" &&
      echo $(( ($(now) - t0) / 1000000 )) >"$work/$p.ms" ) &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "bench: ${projects[$i]} did not boot:" >&2; cat "$work/${projects[$i]}.log" >&2; exit 1; }
  done
  local t1; t1=$(now)
  for p in "${projects[@]:0:$n}"; do own+=("$(cat "$work/$p.ms")"); done
  for p in "${projects[@]:0:$n}"; do "$bin/virtdev-stop" "$p" >/dev/null 2>&1; done
  echo "$(ms "$t0" "$t1") ${own[*]}"
}

for n in "${counts[@]}"; do
  lasts=() all=() times=()
  for _ in $(seq "$rounds"); do
    out=$(boot "$n")
    read -r -a times <<<"$out"
    lasts+=("${times[0]}")
    all+=("${times[@]:1}")
  done
  echo "boot_${n}_ms=$(printf '%s\n' "${lasts[@]}" | median) each_ms=$(printf '%s\n' "${all[@]}" | sort -n | tr '\n' ' ' | sed 's/ $//') rounds=$rounds cpus=$(nproc) vm_cpus=$VIRTDEV_VM_CPUS"
done
