#!/usr/bin/env bats
# kill -9 at random moments of a busy daemon: what it lists afterwards is whole and verifiable.

load helpers

teardown() {
  berthd_stop || true
}

@test "SIGKILL during writes, image creates and deletes loses nothing committed" {
  berthd_start
  churn="$BERTH_SRC/tests/integration/lib/churn.py"
  for round in $(seq 1 8); do
    /usr/bin/python3 "$churn" "$BERTH_SOCK" run "$round" 3>&- &
    cpid=$!
    sleep "0.$((RANDOM % 6 + 3))"
    kill -KILL "$(berthd_pid)"
    wait "$cpid" || true
    rm -f "$BERTH_DIR/berthd.pid"
    berthd_launch
    run /usr/bin/python3 "$churn" "$BERTH_SOCK" verify
    echo "$output"
    [ "$status" -eq 0 ]
  done
  # the churn really ran: images survived the kills
  [ "$(ctr -n crash images ls -q | wc -l)" -gt 0 ]
  # an ingest no record knows (here: planted) does not survive a collection; ingests of
  # interrupted writes stay, held by their records (resumable, as containerd keeps them)
  ingest="$BERTH_DIR/root/io.containerd.content.v1.content/ingest"
  mkdir -p "$ingest/orphan"
  printf 'nobody/1/orphan' >"$ingest/orphan/ref"
  printf 'junk' >"$ingest/orphan/data"
  date -u +%Y-%m-%dT%H:%M:%S.000000000Z >"$ingest/orphan/startedat"
  cp "$ingest/orphan/startedat" "$ingest/orphan/updatedat"
  victim=$(ctr -n crash images ls -q | head -1)
  ctr -n crash images rm --sync "$victim"
  [ ! -e "$ingest/orphan" ]
  for d in "$ingest"/*/; do
    [ -e "$d" ] || continue
    [ ! -e "$d/ref" ] || [[ "$(cat "$d/ref")" == crash/* ]]
  done
  run /usr/bin/python3 "$churn" "$BERTH_SOCK" verify
  [ "$status" -eq 0 ]
}
