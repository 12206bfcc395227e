#!/usr/bin/env bats
# Introspection: ctr plugins ls, filters, detailed view, disabled plugins, the server UUID.

load helpers

setup_file() {
  berthd_start
}

teardown_file() {
  berthd_stop
}

@test "ctr plugins ls lists every plugin with its status" {
  run ctr plugins ls
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "TYPE"*"ID"*"PLATFORMS"*"STATUS"* ]]
  for p in "io.containerd.event.v1 *exchange" "io.containerd.metadata.v1 *bolt" \
    "io.containerd.grpc.v1 *version" "io.containerd.grpc.v1 *namespaces" \
    "io.containerd.grpc.v1 *events" "io.containerd.grpc.v1 *introspection"; do
    echo "$output" | grep -Eq "^$p +.* ok"
  done
}

@test "plugin filters use containerd's syntax" {
  run ctr plugins ls 'type==io.containerd.grpc.v1'
  [ "$status" -eq 0 ]
  [[ "$output" != *"io.containerd.metadata.v1"* ]]
  [[ "$output" == *"namespaces"* ]]
  run ctr plugins ls 'id~=^name' 'id==bolt'
  [ "$(echo "$output" | tail -n +2 | wc -l)" -eq 2 ]
  run ctr plugins ls 'id=='
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid argument"* ]]
}

@test "ctr plugins ls -d shows exports" {
  run ctr plugins ls -d id==bolt
  [ "$status" -eq 0 ]
  [[ "$output" == *"Exports:"* ]]
  [[ "$output" == *"path"*"io.containerd.metadata.v1.bolt/meta.mdb"* ]]
  [[ "$output" == *"policy"*"shared"* ]]
}

@test "a disabled plugin is not listed; a failing one shows its error" {
  cat >"$BERTH_DIR/disabled.toml" <<TOML
version = 3
disabled_plugins = ["io.containerd.grpc.v1.events"]
[plugins.'io.containerd.metadata.v1.bolt']
  content_sharing_policy = "bogus"
TOML
  dir=$(mktemp -d /tmp/berth-it.XXXXXX)
  "$BERTHD" --root "$dir/root" --state "$dir/state" --address "$dir/s.sock" \
    --config "$BERTH_DIR/disabled.toml" >"$dir/berthd.log" 2>&1 3>&- &
  pid=$!
  for i in $(seq 1 100); do [ -S "$dir/s.sock" ] && break; sleep 0.05; done
  run "$CTR" -a "$dir/s.sock" plugins ls
  kill -TERM "$pid"
  wait "$pid"
  rm -rf "$dir"
  [[ "$output" != *" events "* ]]
  echo "$output" | grep -Eq "bolt +.* error"
  # what depends on the failed store is reported, not hidden
  echo "$output" | grep -Eq "namespaces +.* error"
}

@test "the server UUID persists across restarts" {
  a=$(ctr version | awk '/UUID/ {print $2}')
  berthd_restart
  b=$(ctr version | awk '/UUID/ {print $2}')
  [ -n "$a" ]
  [ "$a" = "$b" ]
}

@test "SIGUSR1 writes a state dump to the log" {
  kill -USR1 "$(berthd_pid)"
  for i in $(seq 1 50); do
    grep -q "end of state dump" "$BERTH_DIR/berthd.log" && break
    sleep 0.1
  done
  grep -q 'msg=plugin type=io.containerd.grpc.v1 id=namespaces status=ok' "$BERTH_DIR/berthd.log"
  grep -q 'msg=thread' "$BERTH_DIR/berthd.log"
}
