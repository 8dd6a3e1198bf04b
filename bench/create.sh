#!/bin/bash
# Median wall time of virtdev-create over a sealed base:
#   warm  the usual case: the empty deltas of this base are in the cache
#   cold  the first create after a seal: two qemu-img runs at once
# and, for scale, one `qemu-img create` of a delta (a create needs two).
#
#   bench/create.sh [runs]        (default 50)
#
# Needs ./bin (make) and qemu-img. Times with bash's $EPOCHREALTIME, so no
# process is forked for the clock. Prints one line per figure on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
bin=$PWD/bin
[ -x "$bin/virtdev-create" ] || { echo "bench: build first: make" >&2; exit 1; }
command -v qemu-img >/dev/null || { echo "bench: qemu-img is missing: apt-get install qemu-utils" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VIRTDEV_HOME=$work/home VIRTDEV_CACHE=$work/cache
mkdir -p "$VIRTDEV_HOME/system"
qemu-img create -q -f qcow2 "$VIRTDEV_HOME/system/system.qcow2" 24G
qemu-img create -q -f qcow2 "$VIRTDEV_HOME/system/home.qcow2" 48G
head -c 540672 /dev/zero > "$VIRTDEV_HOME/system/nvram"
echo 1 > "$VIRTDEV_HOME/system/generation"

usec() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }

# time_runs LABEL PREPARE COMMAND...: PREPARE runs untimed before each run;
# {} in the command becomes the run number.
time_runs() {
  local label=$1 prepare=$2 times=() i s
  shift 2
  for i in $(seq "$runs"); do
    eval "$prepare"
    s=$(usec)
    "${@//\{\}/$i}" >/dev/null 2>&1
    times+=($(( $(usec) - s )))
  done
  echo "$label median_ms=$(printf '%s\n' "${times[@]}" | median) runs=$runs"
}

"$bin/virtdev-create" warmup >/dev/null 2>&1
time_runs virtdev-create-warm : "$bin/virtdev-create" 'w{}'
time_runs virtdev-create-cold 'rm -rf "$VIRTDEV_CACHE"' "$bin/virtdev-create" 'c{}'
time_runs qemu-img-create-delta : qemu-img create -q -f qcow2 -F qcow2 -b "$VIRTDEV_HOME/system/system.qcow2" "$work/d{}.qcow2"
