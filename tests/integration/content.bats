#!/usr/bin/env bats
# The content store through Debian's real ctr: ingest, ls, get, label, rm, active; bad input.

load helpers

setup_file() {
  berthd_start
}

teardown_file() {
  berthd_stop
}

sha() {
  printf '%s' "$1" | sha256sum | awk '{print "sha256:" $1}'
}

@test "ctr content ingest, ls, get, label and rm" {
  d=$(sha "hello berth")
  printf 'hello berth' | ctr content ingest --expected-size 11 --expected-digest "$d" ref-hello
  run ctr content ls
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "DIGEST"*"SIZE"*"AGE"*"LABELS"* ]]
  [[ "$output" == *"$d"*"11B"* ]]
  run ctr content get "$d"
  [ "$output" = "hello berth" ]
  ctr content label "$d" team=a "containerd.io/gc.root=now"
  run ctr content ls
  # ctr prints labels in Go map order
  [[ "$output" == *"containerd.io/gc.root=now"* ]]
  [[ "$output" == *"team=a"* ]]
  ctr content label "$d" team=
  run ctr content ls
  [[ "$output" != *"team="* ]]
  run ctr content rm "$d"
  [ "$status" -eq 0 ]
  run ctr content get "$d"
  [ "$status" -ne 0 ]
  [[ "$output" == *"not found"* ]]
}

@test "on disk: containerd's layout with read-only blobs" {
  d=$(sha "layout")
  printf 'layout' | ctr content ingest --expected-digest "$d" ref-layout
  f="$BERTH_DIR/root/io.containerd.content.v1.content/blobs/sha256/${d#sha256:}"
  [ -f "$f" ]
  [ "$(cat "$f")" = "layout" ]
  [ -z "$(ls -A "$BERTH_DIR/root/io.containerd.content.v1.content/ingest")" ]
}

@test "a blob whose digest does not match is refused and nothing is visible" {
  run sh -c "printf 'tampered' | '$CTR' -a '$BERTH_SOCK' content ingest --expected-digest $(sha original) ref-bad"
  [ "$status" -ne 0 ]
  [[ "$output" == *"failed precondition"* ]] || [[ "$output" == *"unexpected"* ]]
  run ctr content ls -q
  [[ "$output" != *"$(sha tampered)"* ]]
  [[ "$output" != *"$(sha original)"* ]]
}

@test "a truncated write then commit is refused" {
  run sh -c "printf 'short' | '$CTR' -a '$BERTH_SOCK' content ingest --expected-size 100 ref-short"
  [ "$status" -ne 0 ]
  run ctr content ls -q
  [[ "$output" != *"$(sha short)"* ]]
}

@test "content is namespaced: a blob in one namespace is not visible in another" {
  d=$(sha "only in ns1")
  printf 'only in ns1' | "$CTR" -a "$BERTH_SOCK" -n ns1 content ingest --expected-digest "$d" r1
  run "$CTR" -a "$BERTH_SOCK" -n ns2 content get "$d"
  [ "$status" -ne 0 ]
  # shared policy: ingesting the same blob in ns2 needs no data and makes it visible (the
  # writer reports the full offset, so ctr seeks its input to the end: give it a file)
  printf 'only in ns1' >"$BERTH_DIR/ns1.blob"
  "$CTR" -a "$BERTH_SOCK" -n ns2 content ingest --expected-digest "$d" r2 <"$BERTH_DIR/ns1.blob"
  run "$CTR" -a "$BERTH_SOCK" -n ns2 content get "$d"
  [ "$output" = "only in ns1" ]
}

@test "ctr content active shows an open ingest; the same ref is locked for a second writer" {
  /usr/bin/python3 "$BERTH_SRC/tests/integration/lib/content_client.py" "$BERTH_SOCK" default \
    hold ref-active 3 >"$BERTH_DIR/hold.out" 2>&1 3>&- &
  pid=$!
  for i in $(seq 1 100); do grep -q held "$BERTH_DIR/hold.out" && break; sleep 0.05; done
  run ctr content active
  [[ "$output" == *"ref-active"*"3B"* ]]
  run /usr/bin/python3 "$BERTH_SRC/tests/integration/lib/content_client.py" "$BERTH_SOCK" \
    default write ref-active xyz
  [ "$status" -ne 0 ]
  [[ "$output" == *"UNAVAILABLE"*"locked"* ]]
  wait "$pid"
  # after the holder left, the ingest can be resumed and aborted
  run ctr content active
  [[ "$output" == *"ref-active"* ]]
}

@test "8 parallel ingests of different blobs all land" {
  for i in $(seq 1 8); do
    (head -c 1048576 /dev/urandom >"$BERTH_DIR/blob$i" &&
      "$CTR" -a "$BERTH_SOCK" content ingest "par-$i" <"$BERTH_DIR/blob$i") &
  done
  wait
  for i in $(seq 1 8); do
    d="sha256:$(sha256sum "$BERTH_DIR/blob$i" | awk '{print $1}')"
    run ctr content get "$d"
    [ "$status" -eq 0 ]
    [ "$(ctr content get "$d" | sha256sum | awk '{print $1}')" = "${d#sha256:}" ]
  done
}

@test "removed content is garbage collected from disk; labelled roots and other namespaces stay" {
  gone=$(sha "collect me")
  kept=$(sha "keep me")
  printf 'collect me' | ctr content ingest --expected-digest "$gone" gc-1
  printf 'keep me' | ctr content ingest --expected-digest "$kept" gc-2
  printf 'keep me' >"$BERTH_DIR/keep.blob"
  "$CTR" -a "$BERTH_SOCK" -n other content ingest --expected-digest "$kept" gc-3 <"$BERTH_DIR/keep.blob"
  # unreferenced content is collectable (as with containerd): make it a root in "other"
  "$CTR" -a "$BERTH_SOCK" -n other content label "$kept" containerd.io/gc.root=yes
  blobs="$BERTH_DIR/root/io.containerd.content.v1.content/blobs/sha256"
  ctr content rm "$gone" "$kept"
  for i in $(seq 1 100); do
    [ ! -e "$blobs/${gone#sha256:}" ] && break
    sleep 0.05
  done
  [ ! -e "$blobs/${gone#sha256:}" ]
  # still a root in namespace "other"
  [ -e "$blobs/${kept#sha256:}" ]
  run "$CTR" -a "$BERTH_SOCK" -n other content get "$kept"
  [ "$output" = "keep me" ]
}

@test "berth content prints what ctr prints and round-trips data" {
  printf 'berth cli' >"$BERTH_DIR/cli.blob"
  d=$(sha "berth cli")
  berth content ingest --expected-size 9 --expected-digest "$d" cli-ref <"$BERTH_DIR/cli.blob"
  [ "$(berth content get "$d")" = "berth cli" ]
  run berth content label "$d" containerd.io/gc.root=x
  [ "$output" = "containerd.io/gc.root=x" ]
  [ "$(berth content ls)" = "$(ctr content ls)" ]
  [ "$(berth content ls -q)" = "$(ctr content ls -q)" ]
  run berth content ingest --expected-digest "$(sha other)" bad-ref <"$BERTH_DIR/cli.blob"
  [ "$status" -ne 0 ]
  [[ "$output" == *"unexpected commit digest"* ]]
  berth content rm "$d"
  run berth content get "$d"
  [ "$status" -ne 0 ]
}
