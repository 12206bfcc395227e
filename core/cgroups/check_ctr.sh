#!/usr/bin/env bash
# Debian's real `ctr task metrics` (table and json) against cgroups-ctr-peer, which serves the
# Metrics core/cgroups reads for a sleeping process: ctr must decode our Any and print the values
# the cgroup files hold. Skips (77) without ctr or usable cgroups.
set -euo pipefail
peer=$1
command -v ctr >/dev/null || { echo "skip: no ctr"; exit 77; }
tmp=$(mktemp -d)
sleep 100000 &
victim=$!
peer_pid=
cleanup() {
  if [ -n "$peer_pid" ]; then kill "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true; fi
  kill "$victim" 2>/dev/null || true
  wait "$victim" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkfifo "$tmp/ready"
"$peer" "$tmp/peer.sock" "$victim" > "$tmp/ready" 2> "$tmp/peer.err" &
peer_pid=$!
exec 3< "$tmp/ready"
if ! read -r -t 60 line <&3 || [ "$line" != ready ]; then
  echo "FAIL: peer did not start: $(cat "$tmp/peer.err")"
  exit 1
fi
ctr=(ctr --address "$tmp/peer.sock" --namespace default --timeout 30s)
if ! "${ctr[@]}" task metrics c1 > "$tmp/table" 2> "$tmp/ctr.err"; then
  if grep -q 'not available\|cgroup deleted' "$tmp/ctr.err"; then
    echo "skip: $(cat "$tmp/ctr.err")"; exit 77
  fi
  echo "FAIL: ctr task metrics: $(cat "$tmp/ctr.err")"; exit 1
fi
cat "$tmp/table"
"${ctr[@]}" task metrics --format json c1 > "$tmp/json"
value() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/table"; }
fail() { echo "FAIL: $*"; exit 1; }
memory=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$victim/cgroup")
if [ -n "$memory" ]; then   # v1 (legacy or hybrid)
  limit=$(cat "/sys/fs/cgroup/memory$memory/memory.limit_in_bytes")
  [ "$(value memory.limit_in_bytes)" = "$limit" ] || fail "memory.limit_in_bytes is not $limit"
  [ "$(value memory.usage_in_bytes)" -gt 0 ] || fail "memory.usage_in_bytes is 0"
  [ "$(value cpuacct.usage)" -gt 0 ] || fail "cpuacct.usage is 0"
  percpu=$(grep -o 'cpuacct.usage_percpu *\[[0-9 ]*\]' "$tmp/table" | tr -cd '0-9 ' | wc -w)
  [ "$percpu" -eq "$(nproc --all)" ] || fail "usage_percpu has $percpu entries, not $(nproc --all)"
  grep -q '"total_cache"' "$tmp/json" ||
    fail "no total_cache in ctr's json"
else                        # unified
  [ -n "$(value cpu.usage_usec)" ] || fail "no cpu.usage_usec row"
  [ -n "$(value memory.usage)" ] || fail "no memory.usage row"
fi
echo "ok: ctr $(ctr --version | awk '{print $3}') decodes Berth's cgroup Metrics"
