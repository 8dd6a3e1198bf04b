#!/bin/bash
# Median wall time of virtdev-create over a sealed base, beside a single
# `qemu-img create` of a delta for scale (virtdev-create needs two).
#
#   bench/create.sh [runs]        (default 50)
#
# Needs ./bin (make) and qemu-img. Prints one line per figure on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
bin=$PWD/bin
[ -x "$bin/virtdev-create" ] || { echo "bench: build first: make" >&2; exit 1; }
command -v qemu-img >/dev/null || { echo "bench: qemu-img is missing: apt-get install qemu-utils" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VIRTDEV_HOME=$work/home
mkdir -p "$VIRTDEV_HOME/system"
qemu-img create -q -f qcow2 "$VIRTDEV_HOME/system/system.qcow2" 24G
qemu-img create -q -f qcow2 "$VIRTDEV_HOME/system/home.qcow2" 48G
head -c 540672 /dev/zero > "$VIRTDEV_HOME/system/nvram"
echo 1 > "$VIRTDEV_HOME/system/generation"

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1e6}'; }

times=()
for i in $(seq "$runs"); do
  s=$(date +%s%N)
  "$bin/virtdev-create" "p$i" >/dev/null 2>&1
  e=$(date +%s%N)
  times+=($((e - s)))
done
echo "virtdev-create median_ms=$(printf '%s\n' "${times[@]}" | median) runs=$runs"

times=()
for i in $(seq "$runs"); do
  s=$(date +%s%N)
  qemu-img create -q -f qcow2 -F qcow2 -b "$VIRTDEV_HOME/system/system.qcow2" "$work/d$i.qcow2"
  e=$(date +%s%N)
  times+=($((e - s)))
done
echo "qemu-img-create-delta median_ms=$(printf '%s\n' "${times[@]}" | median) runs=$runs"
