#!/usr/bin/env bats
# berthd start-up and shutdown: stale sockets, bad addresses, signals, leftovers.

load helpers

teardown() {
  berthd_stop || true
}

@test "a stale socket is replaced and SIGTERM leaves no socket behind" {
  dir=$(mktemp -d /tmp/berth-it.XXXXXX)
  mkdir -p "$dir/state"
  /usr/bin/python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" \
    "$dir/state/berth.sock"
  [ -S "$dir/state/berth.sock" ]
  "$BERTHD" --root "$dir/root" --state "$dir/state" --address "$dir/state/berth.sock" \
    >"$dir/berthd.log" 2>&1 3>&- &
  pid=$!
  echo "$pid" >"$dir/berthd.pid"
  BERTH_DIR=$dir berthd_wait_ready
  "$CTR" -a "$dir/state/berth.sock" version
  kill -TERM "$pid"
  wait "$pid"
  [ ! -e "$dir/state/berth.sock" ]
  grep -q 'msg="berthd stopped"' "$dir/berthd.log"
  rm -rf "$dir"
}

@test "SIGINT stops the daemon too" {
  berthd_start
  pid=$(berthd_pid)
  kill -INT "$pid"
  wait "$pid"
  [ ! -e "$BERTH_SOCK" ]
  grep -q 'msg="received signal interrupt"' "$BERTH_DIR/berthd.log"
}

@test "a regular file at the socket path is not clobbered" {
  dir=$(mktemp -d /tmp/berth-it.XXXXXX)
  mkdir -p "$dir/state"
  echo precious >"$dir/state/berth.sock"
  run "$BERTHD" --root "$dir/root" --state "$dir/state" --address "$dir/state/berth.sock"
  [ "$status" -eq 1 ]
  [[ "$output" == *"is not a socket"* ]]
  [ "$(cat "$dir/state/berth.sock")" = precious ]
  rm -rf "$dir"
}

@test "an over-long socket path is rejected with a clear error" {
  dir=$(mktemp -d /tmp/berth-it.XXXXXX)
  long="$dir/$(printf 'x%.0s' $(seq 1 120)).sock"
  run "$BERTHD" --root "$dir/root" --state "$dir/state" --address "$long"
  [ "$status" -eq 1 ]
  [[ "$output" == *"too long"* ]]
  rm -rf "$dir"
}

@test "an unknown flag or log level is an error" {
  run "$BERTHD" --no-such-flag
  [ "$status" -eq 1 ]
  run "$BERTHD" --log-level loud
  [ "$status" -eq 1 ]
  [[ "$output" == *"unknown log level"* ]]
}

@test "in-flight calls finish during a graceful stop" {
  berthd_start
  # a Health Watch stream is open while we stop: berthd must still exit promptly
  /usr/bin/python3 - "$BERTH_SOCK" 3>&- <<'PY' &
import sys, grpc
ch = grpc.insecure_channel("unix://" + sys.argv[1])
w = ch.unary_stream("/grpc.health.v1.Health/Watch", lambda m: b"", lambda b: b)
try:
    for _ in w(None, timeout=30):
        pass
except grpc.RpcError:
    pass
PY
  py=$!
  sleep 0.3
  pid=$(berthd_pid)
  kill -TERM "$pid"
  wait "$pid"
  wait "$py"
  [ ! -e "$BERTH_SOCK" ]
}
