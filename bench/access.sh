#!/usr/bin/env bash
#
# bench/access.sh [RUNS]
#
# Median wall time of virtdev-list over 100 projects, 2 of whose machines
# run, and of virtdev-status on a running and on a stopped machine, against
# an empty Go program timed the same way at the same moment. The targets:
# list within 3 times the empty Go program, status within 2 times (the bash
# original's list takes about 130 times). A figure that misses its target
# is marked SLOW; the exit status stays 0, so that make bench goes on.
#
# It needs the calling user's systemd user manager (a user bus), which the
# programs ask, and qemu-system-x86_64: each running machine is a QEMU
# without a guest (-machine none) run by virtdev-supervise as the project's
# unit, as virtdev-start runs a machine, so that its monitor answers as a
# booted machine's does and its supervisor holds the machine's up lock.
# Those units stop when the script ends, and after ten minutes in any case. The commands are timed in rounds, each once a round, so that the
# ratios hold on a host whose load comes and goes (bench/common.sh).

set -euo pipefail

runs="${1:-200}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
# shellcheck source=bench/common.sh
source "${root}/bench/common.sh"

case "$(systemctl --user is-system-running 2>/dev/null || true)" in
running | degraded) ;;
*)
  echo "bench/access.sh: no systemd user manager answers (systemctl --user is-system-running); run it as a user with a user bus" >&2
  exit 1
  ;;
esac
command -v qemu-system-x86_64 >/dev/null || { echo "bench/access.sh: qemu-system-x86_64 is needed" >&2; exit 1; }

# Project names no other run shares: the units live under the user's
# manager beside everyone else's.
prefix="bench-$$"
running=("${prefix}-p010" "${prefix}-p060")
cleanup() {
  for p in "${running[@]}"; do
    systemctl --user stop "virtdev-${p}.service" 2>/dev/null || true
  done
  rm -rf "${work}"
}
trap cleanup EXIT

cd "${root}"
# Built as make builds them: static (see CGO_ENABLED in the Makefile).
CGO_ENABLED=0 go build -trimpath -o "${work}/bin/" ./tools/virtdev-list ./tools/virtdev-status ./tools/virtdev-supervise
build_empty_go

hundred_projects "${prefix}-"
port=40000
for p in "${running[@]}"; do
  dir="${VIRTDEV_HOME}/projects/${p}"
  touch "${dir}/nvram" # what makes a directory a machine's, for the supervisor
  echo "$((port++))" >"${dir}/port"
  # Started as virtdev-start starts a machine: done once the supervisor
  # has said READY=1, QEMU answering on its monitors.
  systemd-run --user --quiet --collect --property=Type=notify --property=NotifyAccess=main \
    --property=RuntimeMaxSec=600 --unit="virtdev-${p}.service" --working-directory="${dir}" \
    "${work}/bin/virtdev-supervise" --net=none -- \
    qemu-system-x86_64 -machine none -nodefaults -display none \
    -chardev socket,id=qmp,server=on,wait=off,path=monitor.sock -mon chardev=qmp,mode=control \
    -chardev socket,id=events,server=on,wait=off,path=events.sock -mon chardev=events,mode=control \
    -pidfile qemu.pid
done

bin="${work}/bin"
# Each measured command must give the expected answer, so that an error
# path is never what gets timed. QEMU takes a moment to answer at first.
for ((i = 0; i < 100; i++)); do
  [[ "$("${bin}/virtdev-list" --json)" == *'"qemu":"running"'*'"qemu":"running"'* ]] && break
  sleep 0.1
done
check '{"project":"'"${running[0]}"'","state":"running","qemu":"running"}' "${bin}/virtdev-status" --json "${running[0]}"
check stopped "${bin}/virtdev-status" "${prefix}-p050"
check "${VIRTDEV_HOME}/projects/${running[0]}/up" ls "${VIRTDEV_HOME}/projects/${running[0]}/up"
check 2 bash -c '"$1" 2>/dev/null | grep -c " running "' - "${bin}/virtdev-list"
check 102 bash -c '"$1" 2>/dev/null | wc -l' - "${bin}/virtdev-list"

names=("/bin/true" "empty Go program" "virtdev-list" "virtdev-list --json" "virtdev-status (running)" "virtdev-status (stopped)")
targets=(0 0 3 3 2 2)
mapfile -t medians < <(interleaved_us /bin/true "${work}/empty-go" "${bin}/virtdev-list" "${bin}/virtdev-list --json" \
  "${bin}/virtdev-status ${running[0]}" "${bin}/virtdev-status ${prefix}-p050")
empty="${medians[1]}"
printf 'bench: %d rounds, 100 projects (2 running), every command once a round (bash $EPOCHREALTIME)\n' "${runs}"
for i in "${!names[@]}"; do
  us="${medians[i]}"
  if ((targets[i] == 0)); then
    printf '%-26s median %s\n' "${names[i]}" "$(ms "${us}")"
    continue
  fi
  verdict=ok
  if ((us > targets[i] * empty)); then
    verdict=SLOW
  fi
  printf '%-26s median %s  %d.%02dx the empty Go program (target %dx)  %s\n' "${names[i]}" "$(ms "${us}")" \
    $((us / empty)) $((us * 100 / empty % 100)) "${targets[i]}" "${verdict}"
done
