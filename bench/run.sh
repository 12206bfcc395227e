#!/usr/bin/env bash
# Benchmarks, Berth beside Debian's containerd in one run: medians of several rounds, and ratios.
# Usage: bench/run.sh [ROUNDS]   (after scripts/build.sh; needs the containerd package)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
build="${BERTH_BUILD_DIR:-build}"
bench="$build/bench/rpc-bench"
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_sock() { for _ in $(seq 1 200); do [ -S "$1" ] && return 0; sleep 0.05; done; return 1; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Runs a command `rounds` times and prints the median of its one-number output.
measure() { for _ in $(seq 1 "$rounds"); do "$@"; done | median; }

echo "version = 3" >"$work/berth.toml"
"$build/cmd/berthd/berthd" --root "$work/berth/root" --state "$work/berth/state" \
  --address "$work/berth.sock" --config "$work/berth.toml" >"$work/berthd.log" 2>&1 &
pids+=($!)
"$build/tests/interop/berth-echo" serve "$work/echo.sock" >/dev/null &
pids+=($!)
cat >"$work/containerd.toml" <<TOML
version = 2
root = "$work/containerd/root"
state = "$work/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/containerd.sock"
TOML
containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
pids+=($!)
wait_sock "$work/berth.sock"
wait_sock "$work/echo.sock"
wait_sock "$work/containerd.sock"

printf '%-44s %14s %14s %8s\n' "benchmark (median of $rounds)" "berth" "containerd" "ratio"
row() { # label, berth value, containerd value
  if [ -n "$3" ]; then
    printf '%-44s %14s %14s %7.2fx\n' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)"
  else
    printf '%-44s %14s %14s %8s\n' "$1" "$2" "-" "-"
  fi
}
for conns in 1 8; do
  b=$(measure "$bench" unary "$work/berth.sock" "$conns" 20000)
  c=$(measure "$bench" unary "$work/containerd.sock" "$conns" 20000)
  row "Version unary calls/s, $conns connection(s)" "$b" "$c"
done
for conns in 1 8; do
  b=$(measure "$bench" stream "$work/echo.sock" "$conns" 2048)
  row "gRPC client-stream MiB/s, $conns connection(s)" "$b" ""
done
echo "(ratio > 1: Berth is faster; streaming has no containerd counterpart until the content store)"
