#!/usr/bin/env bash
#
# bench/cli.sh [RUNS]
#
# Median wall time of the read-only programs over a VIRTDEV_HOME with a
# sealed-base generation and 100 projects (some stale, some detached).
# The target is 5 ms each; the original bash tool takes 35-70 ms here.
# A program that misses it is marked SLOW (the exit status stays 0, so that
# make bench goes on to the next benchmark on a busy host). The first lines
# time /bin/true and an empty Go program: the floors for starting a program
# on this host at this moment (bench/common.sh says how runs are timed).

set -euo pipefail

runs="${1:-200}"
target_us=5000
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
# shellcheck source=bench/common.sh
source "${root}/bench/common.sh"

cd "${root}"
go build -o "${work}/bin/" ./tools/virtdev ./tools/virtdev-path ./tools/virtdev-generation ./tools/virtdev-stale
build_empty_go

hundred_projects ""

# Each measured command must succeed with the expected answer, so that an
# error path is never what gets timed.
bin="${work}/bin"
check "${VIRTDEV_HOME}/projects/p050" "${bin}/virtdev-path" p050
check 7 "${bin}/virtdev-generation" p050
check 7 "${bin}/virtdev-generation"
check "${stale}" bash -c '"$1" | wc -l' - "${bin}/virtdev-stale"

printf 'bench: %d runs each, 100 projects (%d stale, 10 detached), target %d ms, timed by %s\n' \
  "${runs}" "${stale}" $((target_us / 1000)) "${timing_method}"
# The floors: starting any program at all, and any Go program, on this
# host at this moment.
printf '%-26s median %s  (floor)\n' "/bin/true" "$(ms "$(median_us /bin/true)")"
printf '%-26s median %s  (floor)\n' "empty Go program" "$(ms "$(median_us "${work}/empty-go")")"
for cmd in "virtdev-path p050" "virtdev-generation p050" "virtdev-generation" "virtdev-stale"; do
  read -r -a argv <<<"${cmd}"
  us="$(median_us "${bin}/${argv[0]}" "${argv[@]:1}")"
  verdict=ok
  if ((us > target_us)); then
    verdict=SLOW
  fi
  printf '%-26s median %s  %s\n' "${cmd}" "$(ms "${us}")" "${verdict}"
done
