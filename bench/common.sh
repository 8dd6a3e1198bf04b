# shellcheck shell=bash disable=SC2034,SC2154
# bench/common.sh: what the benchmarks that time programs' runs share
# (cli.sh, access.sh): the timing itself, and a VIRTDEV_HOME with a sealed
# base and 100 projects. The caller sets runs (how many runs per figure)
# and work (a scratch directory) first.
#
# With hyperfine installed (apt-get install hyperfine), each run is spawned
# directly (hyperfine -N). Without it, bash times each run with
# $EPOCHREALTIME, so no extra process is forked per sample, but the figure
# includes bash's own fork and exec of the program, as a caller's shell
# would pay it. Either way, compare a program with the floors measured the
# same way at the same moment: /bin/true and an empty Go program.

hyperfine="$(command -v hyperfine || true)"
timing_method="hyperfine -N"
if [[ -z "${hyperfine}" ]]; then
  timing_method="bash \$EPOCHREALTIME (apt-get install hyperfine for spawn-only timing)"
fi

# build_empty_go builds ${work}/empty-go: what the Go runtime's own start
# costs here.
build_empty_go() {
  mkdir "${work}/empty"
  printf 'package main\n\nfunc main() {}\n' >"${work}/empty/main.go"
  printf 'module empty\n' >"${work}/empty/go.mod"
  (cd "${work}/empty" && GOWORK=off go build -o "${work}/empty-go" .)
}

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

# hundred_projects PREFIX makes HOME and VIRTDEV_HOME in work: a sealed
# base of generation 7 and 100 projects PREFIXp000 to PREFIXp099, those
# ending in 3 derived from generation 6 (stale), those ending in 7
# detached. It sets stale to their number.
hundred_projects() {
  export HOME="${work}/user" VIRTDEV_HOME="${work}/virtdev"
  unset XDG_DATA_HOME XDG_CACHE_HOME XDG_CONFIG_HOME VIRTDEV_CACHE VIRTDEV_SSH_KEY
  mkdir -p "${HOME}" "${VIRTDEV_HOME}/system"
  echo 7 >"${VIRTDEV_HOME}/system/generation"
  # The base's files: a base without them is damaged, and every program
  # that relies on the base checks they are there.
  touch "${VIRTDEV_HOME}/system/system.qcow2" "${VIRTDEV_HOME}/system/home.qcow2" "${VIRTDEV_HOME}/system/nvram"
  chmod 444 "${VIRTDEV_HOME}/system/"*
  stale=0
  local i dir
  for i in $(seq -w 0 99); do
    dir="${VIRTDEV_HOME}/projects/${1}p0${i}"
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
}

# check WANT CMD ARGS... fails the benchmark unless CMD prints WANT: an
# error path must never be what gets timed.
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

# interleaved_us CMD... times RUNS rounds of every CMD (a command line,
# split at spaces), one after the other in each round, and prints the
# median of each in µs, one a line. On a host whose load comes and goes
# (other people's machines), each figure then meets the same moments, and
# their ratios keep a meaning that figures taken one after the other lose.
interleaved_us() {
  local -a samples argv
  local c i start end
  for ((i = 0; i < runs + 10; i++)); do
    for ((c = 1; c <= $#; c++)); do
      read -r -a argv <<<"${!c}"
      start="${EPOCHREALTIME/./}"
      "${argv[@]}" >/dev/null 2>&1
      end="${EPOCHREALTIME/./}"
      # The first rounds warm the caches.
      if ((i >= 10)); then
        samples[c]+="$((10#${end} - 10#${start})) "
      fi
    done
  done
  for ((c = 1; c <= $#; c++)); do
    # shellcheck disable=SC2086 # one number per word
    printf '%s\n' ${samples[c]} | sort -n | sed -n "$(((runs + 1) / 2))p"
  done
}

# ms US prints microseconds as milliseconds.
ms() { printf '%d.%02d ms' $(($1 / 1000)) $(($1 % 1000 / 10)); }
