#!/bin/bash
# Figures of a real guest under the caller's systemd user manager:
#   bootstrap      time virtdev-bootstrap takes (skipped with a cached base)
#   boot_to_ssh    virtdev-start until virtdev-wait returns
#   wait_up        virtdev-wait against a guest that is already up
#   ssh_true       a plain `ssh true` to the same guest, same run
#   stop           virtdev-stop issued right after virtdev-wait returns
#   stop_latency   virtdev-stop's return after QEMU's process is gone (QEMU's
#                  PID from qemu.pid; the unit's main process is its
#                  supervisor, which records the end after QEMU exits)
#
#   bench/vm.sh [rounds]          (default 3; medians are printed)
#
# Run as an unprivileged user with a user bus, after `make`. BENCH_BASE may
# name a directory with system.qcow2, home.qcow2, nvram, id and id.pub (the
# e2e suite's cache entries have that shape) to skip the bootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
bin=$PWD/bin
for p in virtdev-key virtdev-bootstrap virtdev-seal virtdev-create virtdev-start virtdev-wait virtdev-stop virtdev-path; do
  [ -x "$bin/$p" ] || { echo "bench: $bin/$p is missing: run make first" >&2; exit 1; }
done

# shellcheck source=bench/guest.sh
. bench/guest.sh
guest_setup
project=bench
cleanup() {
  "$bin/virtdev-stop" "$project" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
guest_base
"$bin/virtdev-create" "$project" >/dev/null 2>&1
sshcfg=$work/ssh_config
cat > "$sshcfg" <<CFG
Host bench
  HostName 127.0.0.1
  User dev
  IdentityFile $VIRTDEV_SSH_KEY
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
CFG

boots=() waits=() sshs=() stops=() latencies=()
for round in $(seq "$rounds"); do
  t0=$(now)
  port=$("$bin/virtdev-start" "$project" 2>/dev/null)
  "$bin/virtdev-wait" "$project" 2>/dev/null
  t1=$(now)
  boots+=("$(ms "$t0" "$t1")")
  for _ in 1 2 3 4 5; do
    t0=$(now); "$bin/virtdev-wait" "$project" 2>/dev/null; t1=$(now)
    waits+=("$(ms "$t0" "$t1")")
    t0=$(now); ssh -F "$sshcfg" -p "$port" bench true; t1=$(now)
    sshs+=("$(ms "$t0" "$t1")")
  done
  # Restart so the stop below comes right after wait returns, as in use.
  "$bin/virtdev-stop" "$project" >/dev/null 2>&1
  "$bin/virtdev-start" "$project" >/dev/null 2>&1
  "$bin/virtdev-wait" "$project" 2>/dev/null
  pid=$(cat "$("$bin/virtdev-path" "$project")/qemu.pid")
  t0=$(now)
  "$bin/virtdev-stop" "$project" >/dev/null 2>"$work/stop.log" &
  stopper=$!
  gone=""
  while kill -0 "$stopper" 2>/dev/null; do
    if [ -z "$gone" ] && ! kill -0 "$pid" 2>/dev/null; then gone=$(now); fi
    sleep 0.005
  done
  wait "$stopper" || { echo "bench: virtdev-stop failed:" >&2; cat "$work/stop.log" >&2; exit 1; }
  t1=$(now)
  [ -n "$gone" ] || gone=$t1
  stops+=("$(ms "$t0" "$t1")")
  latencies+=("$(ms "$gone" "$t1")")
  grep -q clean "$work/stop.log" || { echo "bench: the stop was not a clean guest poweroff:" >&2; cat "$work/stop.log" >&2; }
done

w=$(printf '%s\n' "${waits[@]}" | median)
s=$(printf '%s\n' "${sshs[@]}" | median)
echo "boot_to_ssh_ms=$(printf '%s\n' "${boots[@]}" | median) rounds=$rounds"
echo "wait_up_ms=$w ssh_true_ms=$s ratio=$(awk -v a="$w" -v b="$s" 'BEGIN {printf "%.2f", a/b}')"
echo "stop_after_wait_ms=$(printf '%s\n' "${stops[@]}" | median)"
echo "stop_latency_after_qemu_exit_ms=$(printf '%s\n' "${latencies[@]}" | median)"
