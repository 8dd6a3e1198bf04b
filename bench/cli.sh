#!/usr/bin/env bash
#
# bench/cli.sh [RUNS]
#
# Median wall time of the read-only programs over a VIRTDEV_HOME with a
# sealed-base generation and 100 projects (some stale, some detached).
# The target is 5 ms each; the original bash tool takes 35-70 ms here.
# A program that misses it is marked SLOW (the exit status stays 0, so that
# make bench goes on to the next benchmark on a busy host).
#
# With hyperfine installed (apt-get install hyperfine), each run is spawned
# directly (hyperfine -N). Without it, bash times each run with
# $EPOCHREALTIME, so no extra process is forked per sample, but the figure
# includes bash's own fork and exec of the program, as a caller's shell
# would pay it. Either way the first lines time /bin/true and an empty Go
# program: the floors for starting a program on this host at this moment.

set -euo pipefail

runs="${1:-200}"
target_us=5000
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

cd "${root}"
go build -o "${work}/bin/" ./tools/virtdev ./tools/virtdev-path ./tools/virtdev-generation ./tools/virtdev-stale
# An empty Go program: what the Go runtime's own start costs here.
mkdir "${work}/empty"
printf 'package main\n\nfunc main() {}\n' >"${work}/empty/main.go"
printf 'module empty\n' >"${work}/empty/go.mod"
(cd "${work}/empty" && GOWORK=off go build -o "${work}/empty-go" .)

export HOME="${work}/user" VIRTDEV_HOME="${work}/virtdev"
unset XDG_DATA_HOME XDG_CACHE_HOME XDG_CONFIG_HOME VIRTDEV_CACHE VIRTDEV_SSH_KEY
mkdir -p "${HOME}" "${VIRTDEV_HOME}/system"
echo 7 >"${VIRTDEV_HOME}/system/generation"
# The base's files: a base without them is damaged, and every program that
# relies on the base checks they are there.
touch "${VIRTDEV_HOME}/system/system.qcow2" "${VIRTDEV_HOME}/system/home.qcow2" "${VIRTDEV_HOME}/system/nvram"
chmod 444 "${VIRTDEV_HOME}/system/"*
stale=0
for i in $(seq -w 0 99); do
  dir="${VIRTDEV_HOME}/projects/p0${i}"
  mkdir -p "${dir}"
  if ((10#${i} % 10 == 3)); then
    echo 6 >"${dir}/generation"
    stale=$((stale + 1))
  elif ((10#${i} % 10 == 7)); then
    echo detached >"${dir}/generation"
  else
    echo 7 >"${dir}/generation"
  fi
done

# Each measured command must succeed with the expected answer, so that an
# error path is never what gets timed.
check() {
  local want="$1"
  shift
  local got
  got="$("$@")"
  if [[ "${got}" != "${want}" ]]; then
    printf 'bench: %s printed %q, want %q\n' "$*" "${got}" "${want}" >&2
    exit 1
  fi
}
bin="${work}/bin"
check "${VIRTDEV_HOME}/projects/p050" "${bin}/virtdev-path" p050
check 7 "${bin}/virtdev-generation" p050
check 7 "${bin}/virtdev-generation"
check "${stale}" bash -c '"$1" | wc -l' - "${bin}/virtdev-stale"

# median_us CMD ARGS... prints the median wall time of RUNS runs in µs.
median_us() {
  if [[ -n "${hyperfine}" ]]; then
    # Its warnings about outliers on a busy host go to stderr.
    "${hyperfine}" -N --style none --warmup 10 --runs "${runs}" \
      --export-csv "${work}/times.csv" -- "$(printf '%q ' "$@")" >/dev/null 2>&1
    # command,mean,stddev,median,... in seconds
    awk -F, 'NR == 2 { printf "%d\n", $4 * 1e6 }' "${work}/times.csv"
    return
  fi
  local samples=() i start end
  for ((i = 0; i < 10; i++)); do "$@" >/dev/null 2>&1; done # warm the caches
  for ((i = 0; i < runs; i++)); do
    start="${EPOCHREALTIME/./}"
    "$@" >/dev/null 2>&1
    end="${EPOCHREALTIME/./}"
    samples+=($((10#${end} - 10#${start})))
  done
  printf '%s\n' "${samples[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p"
}

ms() { printf '%d.%02d ms' $(($1 / 1000)) $(($1 % 1000 / 10)); }

hyperfine="$(command -v hyperfine || true)"
method="hyperfine -N"
if [[ -z "${hyperfine}" ]]; then
  method="bash \$EPOCHREALTIME (apt-get install hyperfine for spawn-only timing)"
fi

printf 'bench: %d runs each, 100 projects (%d stale, 10 detached), target %d ms, timed by %s\n' \
  "${runs}" "${stale}" $((target_us / 1000)) "${method}"
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
