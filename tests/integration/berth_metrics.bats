#!/usr/bin/env bats
# berth tasks metrics beside Debian's real ctr task metrics, both reading the same canned sample
# from berth-metrics-peer (every field of io.containerd.cgroups.v1/v2 Metrics set): the table
# and the JSON must come out byte for byte as ctr prints them. Live containers are covered by
# berth_run.bats and berth_run_berthd.bats.

BERTH_SRC="$(cd "$(dirname "$BATS_TEST_FILENAME")/../.." && pwd)"
BERTH_BUILD="${BERTH_BUILD_DIR:-$BERTH_SRC/build}"
BERTH="$BERTH_BUILD/cmd/berth/berth"
PEER="$BERTH_BUILD/cmd/berth/berth-metrics-peer"

setup_file() {
  PEER_DIR="$(mktemp -d /tmp/berth-metrics.XXXXXX)"
  export PEER_DIR
  local mode line
  for mode in v1 v2 v2-new none alien; do
    mkfifo "$PEER_DIR/$mode.ready"
    "$PEER" "$PEER_DIR/$mode.sock" "$mode" >"$PEER_DIR/$mode.ready" 2>"$PEER_DIR/$mode.err" 3>&- &
    echo $! >>"$PEER_DIR/pids"
    # the peer says "ready" once it listens
    read -r line <"$PEER_DIR/$mode.ready"
    [ "$line" = ready ]
  done
}

teardown_file() {
  local pid
  for pid in $(cat "$PEER_DIR/pids" 2>/dev/null); do
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$PEER_DIR"
}

setup() {
  command -v ctr >/dev/null || skip "Debian's ctr is missing"
}

berth_on() { # mode args...
  local mode=$1
  shift
  "$BERTH" --address "$PEER_DIR/$mode.sock" "$@"
}

ctr_on() {
  local mode=$1
  shift
  ctr --address "$PEER_DIR/$mode.sock" "$@"
}

# ctr 1.6 prints the sample's time as a time.Time, ctr 2.0 (and berth) as the protobuf Timestamp's
# text; the head block is checked on its own, the metric block against ctr's.
check_table() { # mode
  run berth_on "$1" tasks metrics c1
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "ID    TIMESTAMP                             " ]
  [ "${lines[1]}" = "c1    seconds:1700000000 nanos:120000000    " ]
  [ -z "$(sed -n 3p <<<"$output")" ]
  local theirs
  theirs=$(ctr_on "$1" task metrics c1 | sed 1,3d)
  [ "$(sed 1,3d <<<"$output")" = "$theirs" ]
  [ -n "$theirs" ]
}

@test "v1 table: ctr's rows and columns" {
  check_table v1
  [[ "$output" == *"cpuacct.usage_percpu     [19000057 20000060]    "* ]]
}

@test "v2 table: ctr's rows and columns" {
  check_table v2
  [[ "$output" == *"cpu.throttled_usec    10000030    "* ]]
}

@test "v1 and v2 --format json are ctr's bytes" {
  local mode
  for mode in v1 v2; do
    berth_on "$mode" tasks metrics --format json c1 >"$PEER_DIR/berth.json"
    ctr_on "$mode" task metrics --format json c1 >"$PEER_DIR/ctr.json"
    cmp "$PEER_DIR/berth.json" "$PEER_DIR/ctr.json"
    # every field made it through
    [ "$(wc -l <"$PEER_DIR/berth.json")" -gt 100 ]
  done
}

@test "v2's newer fields, and doubles as encoding/json writes them" {
  run berth_on v2-new task metric --format json c1
  [ "$status" -eq 0 ]
  [[ "$output" == *'"avg10": 0.25,'* ]]
  [[ "$output" == *'"avg60": 1e-7,'* ]]
  [[ "$output" == *'"avg300": 123456789012345680000,'* ]]
  [[ "$output" == *'"avg10": 100,'* ]]
  [[ "$output" == *'"avg60": 1e+21,'* ]]
  [[ "$output" == *'"avg300": 0.30000000000000004,'* ]]
  [[ "$output" == *'"max_usage": '* ]]
  [[ "$output" == *'"swap_max_usage": '* ]]
  jq -e '.memory.psi.some.total > 0' <<<"$output"
}

@test "errors are ctr's" {
  run berth_on none tasks metrics c1
  [ "$status" -eq 1 ]
  [ "$output" = "berth: no metrics received" ]
  run ctr_on none task metrics c1
  [ "$output" = "ctr: no metrics received" ]

  run berth_on alien tasks metrics c1
  [ "$status" -eq 1 ]
  [ "$output" = "berth: cannot convert metric data to cgroups.Metrics or windows.Statistics" ]

  run berth_on v1 tasks metrics notask
  [ "$status" -eq 1 ]
  [ "$output" = "berth: no running task found: task notask: not found" ]
  run ctr_on v1 task metrics notask
  [ "$output" = "ctr: no running task found: task notask: not found" ]

  run berth_on v1 tasks metrics --format yaml c1
  [ "$status" -eq 1 ]
  [ "$output" = "berth: format must be table or json" ]
}
