#!/usr/bin/env bats
# berthd first light: real ctr and berth talk to it; sockets, modes and signals behave.

load helpers

setup_file() {
  berthd_start
}

teardown_file() {
  berthd_stop
}

@test "ctr version shows Berth's server version and revision" {
  run ctr version
  [ "$status" -eq 0 ]
  [[ "$output" == *"Server:"* ]]
  [[ "$output" == *"Version:  v2.0.0+berth."* ]]
  rev=$(git -C "$BERTH_SRC" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  [[ "$output" == *"UUID: "* ]]
  run ctr --timeout 5s version
  [ "$status" -eq 0 ]
}

@test "berth version shows client and server" {
  run berth version
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "Client:" ]]
  [[ "$output" == *"Server:"* ]]
  [[ "$output" == *"v2.0.0+berth."* ]]
}

@test "the server UUID is stable across calls" {
  a=$(ctr version | awk '/UUID/ {print $2}')
  b=$(berth version | awk '/UUID/ {print $2}')
  [ -n "$a" ]
  [ "$a" = "$b" ]
}

@test "socket is 0660 and the state and root dirs are 0711" {
  [ "$(stat -c %a "$BERTH_SOCK")" = "660" ]
  [ "$(stat -c %a "$BERTH_DIR/state")" = "711" ]
  [ "$(stat -c %a "$BERTH_DIR/root")" = "711" ]
}

@test "namespace flag and env are sent without breaking calls" {
  run ctr -n other version
  [ "$status" -eq 0 ]
  CONTAINERD_NAMESPACE=x run "$BERTH" -a "$BERTH_SOCK" version
  [ "$status" -eq 0 ]
}

@test "CONTAINERD_ADDRESS is honoured by berth" {
  CONTAINERD_ADDRESS="$BERTH_SOCK" run "$BERTH" version
  [ "$status" -eq 0 ]
  [[ "$output" == *"Server:"* ]]
}

@test "a client of a missing socket gets a clear error" {
  run "$BERTH" -a "$BERTH_DIR/nope.sock" version
  [ "$status" -eq 1 ]
  [[ "$output" == *"failed to dial"* ]]
}
