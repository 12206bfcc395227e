#!/usr/bin/env bash
# Container benchmarks, Berth beside Debian's containerd in one run, with the same runc
# (/usr/sbin/runc) and Debian's real ctr: `run --rm true` latency, shim memory per running
# container, and create+start+delete of 100 containers. Three columns: berthd with Berth's shim,
# berthd with Debian's Go shim (same daemon, other shim: isolates the shim's share), and Debian's
# containerd with its Go shim. Medians and ratios are printed, never asserted.
# Usage: bench/tasks.sh [ROUNDS]   (as root, after scripts/build.sh; ROUNDS of the 100-container
# cycle, default 3). Environment: RUN_ROUNDS (run --rm rounds, default 20), MEM_N (running
# containers for the memory figures, default 20), CYCLE_N (containers per cycle round, default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
run_rounds="${RUN_ROUNDS:-20}"
mem_n="${MEM_N:-20}"
cycle_n="${CYCLE_N:-100}"
build="${BERTH_BUILD_DIR:-build}"
# runc resolves to /usr/sbin/runc for every shim; no shim is found in /usr/local
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
python=/usr/bin/python3

[ "$(id -u)" -eq 0 ] || { echo "$0: running containers needs root" >&2; exit 1; }
berth_shim=$(realpath "$build/cmd/shim/containerd-shim-runc-v2")
go_shim=/usr/bin/containerd-shim-runc-v2
for f in "$build/cmd/berthd/berthd" "$berth_shim" "$go_shim" /usr/sbin/runc "$(command -v containerd)"; do
  [ -x "$f" ] || { echo "$0: $f is missing" >&2; exit 1; }
done

# a namespace of this run's own: it names the cgroup parent and the Go shim's runc root
ns="bench$$"
image=docker.io/library/busybox:latest
# Debian's Go shim keeps runc state in /run/containerd/runc/<ns>/<id> whichever daemon started it:
# ids are unique to this run
prefix="bt$$x$(date +%s)"
work=$(mktemp -d /tmp/berth-tasks-bench.XXXXXX)

# The three setups: daemon directory and the runtime ctr asks for (a shim path, so that each
# daemon's own shim lookup plays no part).
setups=(berth berthgo containerd)
declare -A runtime=([berth]="$berth_shim" [berthgo]="$go_shim" [containerd]="$go_shim")
declare -A sock daemon_pid
for s in "${setups[@]}"; do sock[$s]="$work/$s/d.sock"; done

c() { # setup, ctr arguments...
  local s=$1
  shift
  ctr -a "${sock[$s]}" -n "$ns" "$@"
}

# Shims of a setup: their command line names its socket after -address (the daemon's own has
# --address).
shim_pids() { pgrep -f -- " -address ${sock[$1]}( |\$)" || true; }

# Removes every task and container of a setup (tasks killed first).
drain() {
  local s=$1 t
  for t in $(c "$s" task ls -q 2>/dev/null); do c "$s" task rm -f "$t" >/dev/null 2>&1 || true; done
  for t in $(c "$s" containers ls -q 2>/dev/null); do c "$s" containers rm "$t" >/dev/null 2>&1 || true; done
}

cleanup() {
  set +e # everything below is best effort, and all of it is tried
  local s p id root
  for s in "${setups[@]}"; do
    [ -S "${sock[$s]}" ] && drain "$s"
    if [ -n "${daemon_pid[$s]:-}" ]; then
      kill -TERM "${daemon_pid[$s]}" 2>/dev/null || true
      wait "${daemon_pid[$s]}" 2>/dev/null || true
    fi
    # shims our daemons started and could not stop (a failed run)
    for p in $(shim_pids "$s"); do kill -KILL "$p" 2>/dev/null || true; done
  done
  # containers whose shim is gone: runc roots of the floor, of Berth's shim (under berthd's
  # state) and of the Go shim
  for root in "$work/runc" "$work"/berth*/state/runc/"$ns" "/run/containerd/runc/$ns"; do
    for id in "$root/$prefix"*; do
      # a second try: the first can meet a container in the middle of starting
      [ -e "$id" ] && { runc --root "$root" delete --force "${id##*/}" 2>/dev/null ||
        { sleep 0.5 && runc --root "$root" delete --force "${id##*/}"; }; }
    done
  done
  rmdir "/run/containerd/runc/$ns" /sys/fs/cgroup/*/"$ns" 2>/dev/null || true
  grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_daemon() { # setup
  local s=$1 dir="$work/$1"
  mkdir -p "$dir"
  if [ "$s" = containerd ]; then
    cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${sock[$s]}"
TOML
    containerd --config "$dir/config.toml" >"$dir/log" 2>&1 &
  else
    echo 'version = 3' >"$dir/config.toml"
    "$build/cmd/berthd/berthd" --root "$dir/root" --state "$dir/state" --address "${sock[$s]}" \
      --config "$dir/config.toml" >"$dir/log" 2>&1 &
  fi
  daemon_pid[$s]=$!
  local i
  for i in $(seq 1 200); do
    c "$s" version >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "$0: $s did not start:" >&2
  cat "$dir/log" >&2
  return 1
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
p90() { sort -g | awk '{a[NR]=$1} END {i=int(NR*0.9); if (i < NR*0.9) i++; print a[i]}'; }
now_ns() { date +%s%N; }

# label, berth, berth with Go shim, containerd, "higher" or "lower" is better. Ratios: containerd
# against berth (> 1: Berth is better), and containerd against berthd with the same Go shim (the
# daemons alone).
row() {
  local r1 r2
  if [ "$5" = higher ]; then
    r1=$(echo "$2 / $4" | bc -l)
    r2=$(echo "$3 / $4" | bc -l)
  else
    r1=$(echo "$4 / $2" | bc -l)
    r2=$(echo "$4 / $3" | bc -l)
  fi
  printf '%-40s %10s %12s %11s %7.2fx %7.2fx\n' "$1" "$2" "$3" "$4" "$r1" "$r2"
}
# Each round visits the setups in a rotated order, so none is always first after the others.
order() { # round
  local i n=${#setups[@]}
  for i in $(seq 0 $((n - 1))); do echo "${setups[$(((i + $1) % n))]}"; done
}

bash tests/images/build.sh "$work/images" >/dev/null
for s in "${setups[@]}"; do
  start_daemon "$s"
  c "$s" images import "$work/images/busybox-oci.tar" >/dev/null
done

printf '%-40s %10s %12s %11s %8s %8s\n' "benchmark" "berth" "berth+goshim" "containerd" "ratio" "daemon"

# 1. shim and daemon memory with MEM_N `sleep` containers running, one setup at a time
declare -A mem_shim_rss mem_shim_pss mem_d_rss mem_d_pss mem_total
per_shim() { # Rss|Pss, pids... → the average in KiB
  local f=$1 p
  shift
  for p in "$@"; do cat "/proc/$p/smaps_rollup"; done | awk -v f="^$f:" -v n="$#" '$0 ~ f {t += $2} END {printf "%d", t / n}'
}
for s in "${setups[@]}"; do
  for i in $(seq 1 "$mem_n"); do
    c "$s" run -d --runtime "${runtime[$s]}" "$image" "${prefix}m$s$i" sleep 1000
  done
  sleep 1
  # shellcheck disable=SC2207 # one pid a line
  pids=($(shim_pids "$s"))
  n=${#pids[@]}
  [ "$n" -eq "$mem_n" ] || { echo "$0: $s: $n shims for $mem_n containers" >&2; exit 1; }
  for p in "${pids[@]}"; do
    [ "$(readlink "/proc/$p/exe")" = "${runtime[$s]}" ] || { echo "$0: $s: shim $p is not ${runtime[$s]}" >&2; exit 1; }
  done
  mem_shim_rss[$s]=$(per_shim Rss "${pids[@]}")
  mem_shim_pss[$s]=$(per_shim Pss "${pids[@]}")
  mem_d_rss[$s]=$(awk '/^Rss:/ {print $2}' "/proc/${daemon_pid[$s]}/smaps_rollup")
  mem_d_pss[$s]=$(awk '/^Pss:/ {print $2}' "/proc/${daemon_pid[$s]}/smaps_rollup")
  drain "$s"
  [ -z "$(shim_pids "$s")" ] || { echo "$0: $s: shims left after the memory run" >&2; exit 1; }
done
for s in "${setups[@]}"; do mem_total[$s]=$((mem_d_pss[$s] + mem_n * mem_shim_pss[$s])); done
row "shim RSS KiB per container ($mem_n running)" "${mem_shim_rss[berth]}" \
  "${mem_shim_rss[berthgo]}" "${mem_shim_rss[containerd]}" lower
row "shim PSS KiB per container" "${mem_shim_pss[berth]}" "${mem_shim_pss[berthgo]}" \
  "${mem_shim_pss[containerd]}" lower
row "daemon RSS KiB, $mem_n running" "${mem_d_rss[berth]}" "${mem_d_rss[berthgo]}" \
  "${mem_d_rss[containerd]}" lower
row "daemon PSS KiB, $mem_n running" "${mem_d_pss[berth]}" "${mem_d_pss[berthgo]}" \
  "${mem_d_pss[containerd]}" lower
row "daemon + $mem_n shims PSS KiB" "${mem_total[berth]}" "${mem_total[berthgo]}" \
  "${mem_total[containerd]}" lower

# templates for the cycle below (and the spec of the runc-alone floor): ctr's spec for busybox
for s in "${setups[@]}"; do
  c "$s" containers create --runtime "${runtime[$s]}" "$image" "${prefix}t$s" sleep 1000
done
# The floor: the same spec and image run by runc alone (no ctr, daemon or shim), a bundle of
# our own with the image's layer extracted.
c containerd containers info "${prefix}tcontainerd" >"$work/template.json"
"$python" - "$work/images/busybox-oci.tar" "$work/template.json" "$work/bundle" <<'PY'
import io, json, os, sys, tarfile
archive, template, bundle = sys.argv[1:]
outer = tarfile.open(archive)
blob = lambda d: outer.extractfile("blobs/" + d.replace(":", "/")).read()
index = json.loads(outer.extractfile("index.json").read())
manifest = json.loads(blob(index["manifests"][0]["digest"]))
os.makedirs(bundle + "/rootfs")
for layer in manifest["layers"]:
    tarfile.open(fileobj=io.BytesIO(blob(layer["digest"]))).extractall(bundle + "/rootfs")
spec = json.load(open(template))["Spec"]
spec["process"]["args"] = ["true"]
spec["root"] = {"path": "rootfs"}
json.dump(spec, open(bundle + "/config.json", "w"), separators=(",", ":"))
PY
set_cgroup() { # id: the bundle's cgroup path is /<ns>/<id>, as ctr makes it
  sed -i "s|\"cgroupsPath\":\"[^\"]*\"|\"cgroupsPath\":\"/$ns/$1\"|" "$work/bundle/config.json"
  grep -q "\"cgroupsPath\":\"/$ns/$1\"" "$work/bundle/config.json"
}

# 2. `ctr run --rm IMAGE ID true`, RUN_ROUNDS times per setup, interleaved; beside it the floors:
# `ctr version` (ctr's own start-up and one call) and runc alone
for r in $(seq 1 "$run_rounds"); do
  for s in $(order "$r"); do
    t0=$(now_ns)
    c "$s" run --rm --runtime "${runtime[$s]}" "$image" "${prefix}r$s$r" true
    t1=$(now_ns)
    echo "($t1 - $t0) / 1000000" | bc -l >>"$work/run-$s"
    t0=$(now_ns)
    c "$s" version >/dev/null 2>&1 # (ctr warns that berthd's version is not its own)
    t1=$(now_ns)
    echo "($t1 - $t0) / 1000000" | bc -l >>"$work/version-$s"
  done
  set_cgroup "${prefix}a$r"
  t0=$(now_ns)
  runc --root "$work/runc" run --bundle "$work/bundle" "${prefix}a$r" </dev/null
  t1=$(now_ns)
  echo "($t1 - $t0) / 1000000" | bc -l >>"$work/runc-alone"
done
col() { "$1" <"$work/$2" | xargs printf "${3:-%.1f}"; }
row "ctr run --rm true, median ms" "$(col median run-berth)" "$(col median run-berthgo)" \
  "$(col median run-containerd)" lower
row "ctr run --rm true, p90 ms" "$(col p90 run-berth)" "$(col p90 run-berthgo)" \
  "$(col p90 run-containerd)" lower
row "  ctr version, median ms" "$(col median version-berth)" "$(col median version-berthgo)" \
  "$(col median version-containerd)" lower
printf '%-40s %10s\n' "  runc run true alone, median ms" "$(col median runc-alone)"

# 3. create+start+kill+delete of CYCLE_N containers, one after the other, by a tight gRPC client
for r in $(seq 1 "$rounds"); do
  for s in $(order "$r"); do
    "$python" bench/task_cycle.py "${sock[$s]}" "$ns" "${prefix}t$s" "${prefix}c$s$r-" "$cycle_n" \
      "$work/steps-$s" >>"$work/cycle-$s"
  done
done
row "create+start+delete x$cycle_n, median s" "$(col median cycle-berth %.2f)" \
  "$(col median cycle-berthgo %.2f)" "$(col median cycle-containerd %.2f)" lower
printf '%-40s %10s %12s %11s\n' "  each round, s" "$(paste -sd/ "$work/cycle-berth")" \
  "$(paste -sd/ "$work/cycle-berthgo")" "$(paste -sd/ "$work/cycle-containerd")"
# where the time goes: mean ms per container in each RPC, over all rounds
"$python" - "$work" "$cycle_n" <<'PY' >"$work/steps"
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
# in the order the client calls them
calls = ("leases/Create", "snapshots/Prepare", "containers/Create", "leases/Delete", "tasks/Create",
         "tasks/Start", "tasks/Kill", "tasks/Wait", "tasks/Delete", "snapshots/Remove",
         "containers/Delete")
means = {}
for s in ("berth", "berthgo", "containerd"):
    rounds = [json.loads(line) for line in open("%s/steps-%s" % (work, s))]
    means[s] = {k: sum(r.get(k, 0) for r in rounds) * 1000 / (n * len(rounds)) for k in calls}
for k in calls:
    print("%s %s" % (k, " ".join("%.1f" % means[s][k] for s in means)))
PY
while read -r step b bg cd; do
  row "  $step, mean ms" "$b" "$bg" "$cd" lower
done <"$work/steps"
echo "(ratio: containerd / berth, > 1: Berth is better; daemon: containerd / berthd, both with the Go shim)"
