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

row() { # label, berth value, containerd value, "higher" or "lower" is better
  if [ -n "$3" ]; then
    local ratio
    if [ "$4" = higher ]; then ratio=$(echo "$2 / $3" | bc -l); else ratio=$(echo "$3 / $2" | bc -l); fi
    printf '%-46s %12s %12s %7.2fx\n' "$1" "$2" "$3" "$ratio"
  else
    printf '%-46s %12s %12s %8s\n' "$1" "$2" "-" "-"
  fi
}

berth_conf() { # dir
  mkdir -p "$1"
  echo 'version = 3' >"$1/config.toml"
}
containerd_conf() { # dir
  mkdir -p "$1"
  cat >"$1/config.toml" <<TOML
version = 2
root = "$1/root"
state = "$1/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$1/containerd.sock"
TOML
}

# start-to-ready: exec → first successful Version call; then idle memory after 1 s
start_berth() { # dir
  "$build/cmd/berthd/berthd" --root "$1/root" --state "$1/state" --address "$1/berth.sock" \
    --config "$1/config.toml" >"$1/log" 2>&1 &
  echo $!
}
start_containerd() { # dir
  containerd --config "$1/config.toml" >"$1/log" 2>&1 &
  echo $!
}
startup_round() { # berth|containerd  → prints "ms rss_kib pss_kib"
  local dir="$work/start-$1-$RANDOM" pid sock start ms
  if [ "$1" = berth ]; then berth_conf "$dir"; sock="$dir/berth.sock"; else containerd_conf "$dir"; sock="$dir/containerd.sock"; fi
  start=$(date +%s%N)
  if [ "$1" = berth ]; then pid=$(start_berth "$dir"); else pid=$(start_containerd "$dir"); fi
  ms=$("$bench" ready "$sock" "$start")
  sleep 1
  local rss pss
  rss=$(awk '/^Rss:/ {print $2}' "/proc/$pid/smaps_rollup")
  pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  echo "$ms $rss $pss"
}

printf '%-46s %12s %12s %8s\n' "benchmark (median of $rounds)" "berth" "containerd" "ratio"
for who in berth containerd; do
  for _ in $(seq 1 "$rounds"); do startup_round "$who"; done >"$work/startup-$who"
done
col() { awk -v c="$2" '{print $c}' "$work/startup-$1" | median; }
row "start-to-ready ms" "$(col berth 1)" "$(col containerd 1)" lower
row "idle RSS KiB" "$(col berth 2)" "$(col containerd 2)" lower
row "idle PSS KiB" "$(col berth 3)" "$(col containerd 3)" lower

berth_conf "$work/berth"
pids+=("$(start_berth "$work/berth")")
"$build/tests/interop/berth-echo" serve "$work/echo.sock" >/dev/null &
pids+=($!)
containerd_conf "$work/containerd"
pids+=("$(start_containerd "$work/containerd")")
wait_sock "$work/berth/berth.sock"
wait_sock "$work/echo.sock"
wait_sock "$work/containerd/containerd.sock"

for conns in 1 8; do
  b=$(measure "$bench" unary "$work/berth/berth.sock" "$conns" 20000)
  c=$(measure "$bench" unary "$work/containerd/containerd.sock" "$conns" 20000)
  row "Version unary calls/s, $conns connection(s)" "$b" "$c" higher
done
for conns in 1 8; do
  b=$(measure "$bench" stream "$work/echo.sock" "$conns" 2048)
  row "gRPC client-stream MiB/s, $conns connection(s)" "$b" "" higher
done
# content ingest: 256 MiB through ctr's Write stream into each daemon
head -c $((256 << 20)) /dev/urandom >"$work/blob"
ingest_round() { # socket → MiB/s
  local ref="bench-$RANDOM$RANDOM" start end
  start=$(date +%s%N)
  ctr -a "$1" -n bench content ingest "$ref" <"$work/blob" >/dev/null
  end=$(date +%s%N)
  ctr -a "$1" -n bench content rm "sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)" >/dev/null
  echo "256 * 1000000000 / ($end - $start)" | bc -l
}
b=$(measure ingest_round "$work/berth/berth.sock")
c=$(measure ingest_round "$work/containerd/containerd.sock")
row "content ingest MiB/s (256 MiB, ctr)" "$(printf %.1f "$b")" "$(printf %.1f "$c")" higher

# images ls latency with 1000 images
/usr/bin/python3 bench/populate_images.py "$work/berth/berth.sock" 1000
/usr/bin/python3 bench/populate_images.py "$work/containerd/containerd.sock" 1000
ls_round() { # socket → ms
  local start end
  start=$(date +%s%N)
  ctr -a "$1" -n bench images ls -q >/dev/null
  end=$(date +%s%N)
  echo "($end - $start) / 1000000" | bc -l
}
b=$(measure ls_round "$work/berth/berth.sock")
c=$(measure ls_round "$work/containerd/containerd.sock")
row "ctr images ls, 1000 images, ms" "$(printf %.1f "$b")" "$(printf %.1f "$c")" lower
# image import (client-side ctr import, --no-unpack): content writes, leases, images
bash tests/images/build.sh "$work/images" >/dev/null
import_round() { # socket → ms
  local start end
  start=$(date +%s%N)
  ctr -a "$1" -n import images import --no-unpack "$work/images/busybox-docker.tar" >/dev/null
  end=$(date +%s%N)
  ctr -a "$1" -n import images rm --sync docker.io/library/busybox:latest >/dev/null
  echo "($end - $start) / 1000000" | bc -l
}
b=$(measure import_round "$work/berth/berth.sock")
c=$(measure import_round "$work/containerd/containerd.sock")
row "ctr images import --no-unpack (busybox), ms" "$(printf %.1f "$b")" "$(printf %.1f "$c")" lower
# import + unpack of a ~300 MiB 3-layer gzip image (ctr, client-side unpack through Diff/Apply)
/usr/bin/python3 bench/make_big_image.py "$work/big.tar"
unpack_round() { # socket → seconds
  local start end
  start=$(date +%s%N)
  ctr -a "$1" -n unpack images import "$work/big.tar" >/dev/null
  end=$(date +%s%N)
  ctr -a "$1" -n unpack images rm --sync bench.example/big:latest >/dev/null
  for s in $(ctr -a "$1" -n unpack snapshots ls | awk 'NR > 1 {print $1}' | tac); do
    ctr -a "$1" -n unpack snapshots rm "$s" >/dev/null 2>&1 || true
  done
  echo "($end - $start) / 1000000000" | bc -l
}
b=$(measure unpack_round "$work/berth/berth.sock")
c=$(measure unpack_round "$work/containerd/containerd.sock")
row "import+unpack 3x100 MiB gzip layers, s" "$(printf %.2f "$b")" "$(printf %.2f "$c")" lower

# the same layers unpacked in-process (core/unpack) into a fresh overlayfs snapshotter: each layer
# inflated and extracted on one thread, inflated on its own thread, and that plus the next layer
# inflated ahead while the current one is extracted
mkdir -p "$work/big" && tar xf "$work/big.tar" -C "$work/big"
layer_args=$(/usr/bin/python3 - "$work/big" <<'PY'
import json, sys
root = sys.argv[1]
blob = lambda d: json.load(open("%s/blobs/%s" % (root, d.replace(":", "/"))))
manifest = blob(json.load(open(root + "/index.json"))["manifests"][0]["digest"])
diff_ids = blob(manifest["config"]["digest"])["rootfs"]["diff_ids"]
print(" ".join("%s %s" % (l["digest"], d) for l, d in zip(manifest["layers"], diff_ids)))
PY
)
for mode in sequential threaded pipelined; do
  # shellcheck disable=SC2086 # digest and diff_id pairs
  v=$(measure "$build/core/unpack/unpack-bench" "$mode" "$work" "$work/big" $layer_args)
  row "in-process unpack 3x100 MiB, $mode, s" "$v" "" lower
done
# the same on 3x64 MiB of /usr/lib files at gzip -6, where inflating costs about as much as
# extracting; with igzip and with zlib
system_args=$(/usr/bin/python3 bench/make_system_layers.py "$work/system")
for mode in sequential pipelined sequential-zlib pipelined-zlib; do
  # shellcheck disable=SC2086
  v=$(measure "$build/core/unpack/unpack-bench" "$mode" "$work" "$work/system" $system_args)
  row "in-process unpack 3x64 MiB /usr/lib, $mode, s" "$v" "" lower
done

# layer decompression: ISA-L igzip against zlib, in-process (no containerd counterpart)
speeds=$("$build/core/diff/gunzip-speed" 2>/dev/null || true)
row "gunzip MiB/s igzip (incl. both digests)" "$(echo "$speeds" | awk '/^igzip:/ {print $2}')" "" higher
row "gunzip MiB/s zlib (incl. both digests)" "$(echo "$speeds" | awk '/^zlib:/ {print $2}')" "" higher
echo "(ratio > 1: Berth is better; streaming has no containerd counterpart)"
