#!/usr/bin/env bash
#
# bench/lifecycle.sh [BASE-DIR] [RUNS]
#
# Wall times of the lifecycle programs on projects over a real base:
#   virtdev-destroy, virtdev-move   median of RUNS runs on a stopped project;
#                                   the targets are a few milliseconds plus
#                                   the file system's work
#   virtdev-detach                  median of 5 runs on projects whose disks
#                                   hold data of their own, against qemu-img
#                                   convert of the same two disks: one after
#                                   the other, both at once (as detach
#                                   converts them), and both at once with the
#                                   results synced (as durable as detach
#                                   makes them); the target is a ratio of at
#                                   most 1.1
#
# BASE-DIR holds system.qcow2, home.qcow2 and nvram; by default the base
# the e2e suite cached (VIRTDEV_E2E_CACHE, else ~/.cache/virtdev-e2e).
# Needs ./bin (make), qemu-img and qemu-io, and a systemd user manager: the
# programs ask it whether the machine runs. Prints one line per figure.

set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${1:-}"
runs="${2:-30}"
bin="${root}/bin"
if [[ -z "${base}" ]]; then
  cache="${VIRTDEV_E2E_CACHE:-${HOME}/.cache/virtdev-e2e}"
  for entry in "${cache}"/*/; do
    [[ -f "${entry}complete" ]] && base="${entry%/}" && break
  done
fi
[[ -f "${base}/system.qcow2" ]] || { echo "bench: no base: give a directory with system.qcow2, home.qcow2 and nvram (the e2e suite caches one)" >&2; exit 1; }
for p in virtdev-destroy virtdev-move virtdev-detach; do
  [[ -x "${bin}/${p}" ]] || { echo "bench: ${bin}/${p} is missing: make first" >&2; exit 1; }
done
command -v qemu-io >/dev/null || { echo "bench: qemu-io is missing: apt-get install qemu-utils" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/var/tmp}/virtdev-bench.XXXXXX")"
trap 'rm -rf "${work}"' EXIT
export VIRTDEV_HOME="${work}/home" VIRTDEV_CACHE="${work}/cache" XDG_CONFIG_HOME="${work}/config"
mkdir -p "${VIRTDEV_HOME}/system"
for f in system.qcow2 home.qcow2 nvram; do
  cp "${base}/${f}" "${VIRTDEV_HOME}/system/${f}"
done
echo 1 >"${VIRTDEV_HOME}/system/generation"
chmod 444 "${VIRTDEV_HOME}/system/"*

usec() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1000}'; }
# create makes a project as virtdev-create does (deltas over the base, a
# copy of its UEFI variables, its generation), untimed and independent of
# that program.
create() {
  local dir="${VIRTDEV_HOME}/projects/$1" f
  mkdir -p "${dir}"
  for f in system home; do
    qemu-img create -q -f qcow2 -F qcow2 -b "${VIRTDEV_HOME}/system/${f}.qcow2" "${dir}/${f}.qcow2"
  done
  cp "${VIRTDEV_HOME}/system/nvram" "${dir}/nvram"
  chmod 644 "${dir}/nvram"
  echo 1 >"${dir}/generation"
}
# timed COMMAND...: the wall time of one run, in microseconds; a failure
# ends the benchmark with the program's messages.
timed() {
  local s e out
  s=$(usec)
  if ! out=$("$@" 2>&1 >/dev/null); then
    echo "bench: $* failed:" >&2; echo "${out}" >&2; exit 1
  fi
  e=$(usec)
  echo $((e - s))
}

# Floors: a program that starts and refuses at once (no project), and one
# round trip to the user manager by systemctl.
times=()
for i in $(seq "${runs}"); do
  s=$(usec); "${bin}/virtdev-destroy" --yes none >/dev/null 2>&1 || true; times+=($(( $(usec) - s )))
done
echo "floor-program-start median_ms=$(printf '%s\n' "${times[@]}" | median) runs=${runs}"
times=()
for i in $(seq "${runs}"); do
  times+=("$(timed systemctl --user show --property=ActiveState virtdev-none.service)")
done
echo "floor-systemctl-round-trip median_ms=$(printf '%s\n' "${times[@]}" | median) runs=${runs}"

times=()
for i in $(seq "${runs}"); do
  create "d${i}"
  times+=("$(timed "${bin}/virtdev-destroy" --yes "d${i}")")
done
echo "virtdev-destroy median_ms=$(printf '%s\n' "${times[@]}" | median) runs=${runs}"

create m0
times=()
for i in $(seq "${runs}"); do
  times+=("$(timed "${bin}/virtdev-move" "m$((i - 1))" "m${i}")")
done
echo "virtdev-move median_ms=$(printf '%s\n' "${times[@]}" | median) runs=${runs}"

# Detach: projects with data of their own on both disks, as used ones
# have. Each round times qemu-img convert of copies of the same two disks,
# one after the other, then both at once, then both at once followed by
# sync of the results (detach makes them durable before it swaps them in:
# qemu-img leaves its writes to the kernel), then virtdev-detach. Each run
# starts after sync, so that none pays for the dirty pages of the one
# before, and the base is read once beforehand, so that none pays for a
# cold cache. Other machines' work on the host makes single runs vary by a
# factor of several: the medians are what count.
rounds=5
cat "${VIRTDEV_HOME}/system/"*.qcow2 >/dev/null
mkdir "${work}/plain"
convert() { qemu-img convert -f qcow2 -O qcow2 "${work}/plain/$1.qcow2" "${work}/plain/$1.out.qcow2"; }
both="$(declare -f convert); work='${work}'; convert system & a=\$!; convert home && wait \$a"
sequential=() parallel=() durable=() detach=()
for round in $(seq "${rounds}"); do
  create "w${round}"
  dir="${VIRTDEV_HOME}/projects/w${round}"
  qemu-io -f qcow2 -c 'write -P 0x5a 1G 256M' "${dir}/system.qcow2" >/dev/null
  qemu-io -f qcow2 -c 'write -P 0xa5 0 256M' "${dir}/home.qcow2" >/dev/null
  cp "${dir}/system.qcow2" "${dir}/home.qcow2" "${work}/plain/"
  sync
  sequential+=("$(timed bash -c "$(declare -f convert); work='${work}'; convert system && convert home")")
  rm -f "${work}/plain/"*.out.qcow2; sync
  parallel+=("$(timed bash -c "${both}")")
  rm -f "${work}/plain/"*.out.qcow2; sync
  durable+=("$(timed bash -c "${both} && sync '${work}/plain/system.out.qcow2' '${work}/plain/home.out.qcow2'")")
  rm -f "${work}/plain/"*.out.qcow2; sync
  detach+=("$(timed "${bin}/virtdev-detach" --yes "w${round}")")
  rm -rf "${dir}"; sync
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
seq_ms=$(printf '%s\n' "${sequential[@]}" | median)
par_ms=$(printf '%s\n' "${parallel[@]}" | median)
durable_ms=$(printf '%s\n' "${durable[@]}" | median)
detach_ms=$(printf '%s\n' "${detach[@]}" | median)
echo "qemu-img-convert-sequential median_ms=${seq_ms} runs=${rounds}"
echo "qemu-img-convert-parallel median_ms=${par_ms} runs=${rounds}"
echo "qemu-img-convert-parallel-synced median_ms=${durable_ms} runs=${rounds}"
echo "virtdev-detach median_ms=${detach_ms} runs=${rounds} ratio_to_synced=$(ratio "${detach_ms}" "${durable_ms}") ratio_to_parallel=$(ratio "${detach_ms}" "${par_ms}") ratio_to_sequential=$(ratio "${detach_ms}" "${seq_ms}")"
