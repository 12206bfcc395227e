# Shared helpers for Berth's bats integration tests: one berthd per test file, in its own
# temporary root/state/socket, torn down with nothing left behind.

BERTH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BERTH_BUILD="${BERTH_BUILD_DIR:-$BERTH_SRC/build}"
BERTHD="$BERTH_BUILD/cmd/berthd/berthd"
BERTH="$BERTH_BUILD/cmd/berth/berth"
CTR="${CTR:-/usr/bin/ctr}"

# Starts berthd in a fresh directory; sets BERTH_DIR, BERTH_SOCK, BERTHD_PID.
berthd_start() {
  BERTH_DIR="$(mktemp -d /tmp/berth-it.XXXXXX)"
  BERTH_SOCK="$BERTH_DIR/state/berth.sock"
  export BERTH_DIR BERTH_SOCK
  "$BERTHD" --root "$BERTH_DIR/root" --state "$BERTH_DIR/state" --address "$BERTH_SOCK" \
    --config "$BERTH_DIR/config.toml" "$@" >"$BERTH_DIR/berthd.log" 2>&1 3>&- &
  BERTHD_PID=$!
  export BERTHD_PID
  berthd_wait_ready
}

# Waits until the socket answers (bounded): the daemon logs "booted" once it listens.
berthd_wait_ready() {
  local i
  for i in $(seq 1 200); do
    if grep -q "successfully booted" "$BERTH_DIR/berthd.log" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$BERTHD_PID" 2>/dev/null; then
      echo "berthd exited early:" >&2
      cat "$BERTH_DIR/berthd.log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "berthd did not become ready" >&2
  cat "$BERTH_DIR/berthd.log" >&2
  return 1
}

# Stops berthd with SIGTERM and checks it exits cleanly; removes its directory.
berthd_stop() {
  local rc=0
  if [ -n "${BERTHD_PID:-}" ] && kill -0 "$BERTHD_PID" 2>/dev/null; then
    kill -TERM "$BERTHD_PID"
    wait "$BERTHD_PID" || rc=$?
  fi
  BERTHD_PID=
  if [ -n "${BERTH_DIR:-}" ]; then
    if [ "$rc" -ne 0 ]; then
      echo "berthd exited with $rc:" >&2
      cat "$BERTH_DIR/berthd.log" >&2
    fi
    rm -rf "$BERTH_DIR"
  fi
  return "$rc"
}

ctr() {
  "$CTR" --address "$BERTH_SOCK" "$@"
}

berth() {
  "$BERTH" --address "$BERTH_SOCK" "$@"
}
