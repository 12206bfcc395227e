#!/usr/bin/env bats
# Namespaces through Debian's real ctr: create, list, label, remove, errors, events.

load helpers

setup_file() {
  berthd_start
}

teardown_file() {
  berthd_stop
}

@test "ctr namespaces create, ls and label behave as with containerd" {
  run ctr namespaces create team-a owner=alice tier=gold
  [ "$status" -eq 0 ]
  run ctr namespaces ls
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "NAME"*"LABELS"* ]]
  [[ "$output" == *"team-a"*"owner=alice,tier=gold"* ]]
  run ctr namespaces label team-a tier= env=prod
  [ "$status" -eq 0 ]
  run ctr namespaces ls -q
  [[ "$output" == *"team-a"* ]]
  run ctr namespaces ls
  [[ "$output" == *"env=prod,owner=alice"* ]]
  [[ "$output" != *"tier="* ]]
}

@test "creating an existing namespace fails with AlreadyExists" {
  ctr namespaces create dup
  run ctr namespaces create dup
  [ "$status" -ne 0 ]
  [[ "$output" == *'namespace "dup": already exists'* ]]
}

@test "invalid namespace names are rejected" {
  run ctr namespaces create 'Bad_Name!'
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid argument"* ]]
  run ctr namespaces create "$(printf 'a%.0s' $(seq 1 77))"
  [ "$status" -ne 0 ]
}

@test "removing a namespace; a missing one is NotFound (ctr ignores it as with containerd)" {
  ctr namespaces create gone
  run ctr namespaces rm gone
  [ "$status" -eq 0 ]
  [ "$output" = "gone" ]
  run ctr namespaces ls -q
  [[ "$output" != *"gone"* ]]
  # ctr prints the name and exits 0 on NotFound, exactly as against containerd
  run ctr namespaces rm never-was
  [ "$status" -eq 0 ]
  # the RPC itself reports NotFound: berth surfaces it
  run berth namespaces rm never-was
  [ "$status" -ne 0 ]
  [[ "$output" == *'namespace "never-was": not found'* ]]
}

@test "ctr events sees /namespaces/create from another client" {
  ctr events >"$BERTH_DIR/events.txt" 2>&1 3>&- &
  pid=$!
  # wait until the subscription is in place: publish markers until one shows up
  for i in $(seq 1 50); do
    ctr namespaces create "probe$i" >/dev/null
    grep -q "/namespaces/create" "$BERTH_DIR/events.txt" && break
    sleep 0.1
  done
  ctr namespaces create watched
  ctr namespaces label watched k=v
  ctr namespaces rm watched
  for i in $(seq 1 50); do
    grep -q 'watched /namespaces/delete' "$BERTH_DIR/events.txt" && break
    sleep 0.1
  done
  kill "$pid"
  wait "$pid" || true
  grep -q 'watched /namespaces/create {"name":"watched"}' "$BERTH_DIR/events.txt"
  grep -q 'watched /namespaces/update {"name":"watched","labels":{"k":"v"}}' "$BERTH_DIR/events.txt"
  grep -q 'watched /namespaces/delete {"name":"watched"}' "$BERTH_DIR/events.txt"
}

@test "namespaces survive a daemon restart" {
  ctr namespaces create persistent keep=yes
  berthd_restart
  run ctr namespaces ls
  [[ "$output" == *"persistent"*"keep=yes"* ]]
}

@test "event filters: topic, namespace and event fields" {
  ctr events 'event.name==kept' 'topic=="/namespaces/delete"' >"$BERTH_DIR/filtered.txt" 2>&1 3>&- &
  pid=$!
  for i in $(seq 1 50); do
    ctr namespaces create kept
    ctr namespaces rm kept >/dev/null
    grep -q 'kept /namespaces/create' "$BERTH_DIR/filtered.txt" && break
    sleep 0.1
  done
  ctr namespaces create skipped
  ctr namespaces label skipped a=b
  ctr namespaces rm skipped
  for i in $(seq 1 50); do
    grep -q 'skipped /namespaces/delete' "$BERTH_DIR/filtered.txt" && break
    sleep 0.1
  done
  kill "$pid"
  wait "$pid" || true
  grep -q 'kept /namespaces/create {"name":"kept"}' "$BERTH_DIR/filtered.txt"
  grep -q 'skipped /namespaces/delete' "$BERTH_DIR/filtered.txt"
  ! grep -q 'skipped /namespaces/create' "$BERTH_DIR/filtered.txt"
  ! grep -q 'skipped /namespaces/update' "$BERTH_DIR/filtered.txt"
}

@test "a bad event filter is InvalidArgument" {
  run ctr events 'event.name=='
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid argument"* ]]
}

@test "berthd publish (containerd's publish binary for shims) delivers an event" {
  ctr events >"$BERTH_DIR/published.txt" 2>&1 3>&- &
  pid=$!
  any() { # an Any holding containerd.events.NamespaceCreate{name: $1}
    /usr/bin/python3 -c '
import sys
name = sys.argv[1].encode()
url = b"containerd.events.NamespaceCreate"
value = b"\x0a" + bytes([len(name)]) + name
sys.stdout.buffer.write(b"\x0a" + bytes([len(url)]) + url + b"\x12" + bytes([len(value)]) + value)
' "$1"
  }
  for i in $(seq 1 50); do
    any "probe" | "$BERTHD" --address "$BERTH_SOCK" publish --namespace default --topic /test/probe
    grep -q '/test/probe' "$BERTH_DIR/published.txt" && break
    sleep 0.1
  done
  any "hello" | "$BERTHD" --address "$BERTH_SOCK" publish --namespace team --topic /test/published
  for i in $(seq 1 50); do
    grep -q '/test/published' "$BERTH_DIR/published.txt" && break
    sleep 0.1
  done
  kill "$pid"
  wait "$pid" || true
  grep -q 'team /test/published {"name":"hello"}' "$BERTH_DIR/published.txt"
  # a bad topic is refused with containerd's error
  run "$BERTHD" --address "$BERTH_SOCK" publish --namespace team --topic 'no-slash' </dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid argument"* ]]
}
