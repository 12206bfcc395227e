# Shared helpers for Berth's bats integration tests: one berthd per test file, in its own
# temporary root/state/socket, torn down with nothing left behind.

BERTH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BERTH_BUILD="${BERTH_BUILD_DIR:-$BERTH_SRC/build}"
BERTHD="$BERTH_BUILD/cmd/berthd/berthd"
BERTH="$BERTH_BUILD/cmd/berth/berth"
CTR="${CTR:-/usr/bin/ctr}"

# Starts berthd in a fresh directory; sets BERTH_DIR and BERTH_SOCK. Extra args go to berthd.
berthd_start() {
  BERTH_DIR="$(mktemp -d /tmp/berth-it.XXXXXX)"
  BERTH_SOCK="$BERTH_DIR/state/berth.sock"
  export BERTH_DIR BERTH_SOCK
  echo 'version = 3' >"$BERTH_DIR/config.toml"
  berthd_launch "$@"
}

# Starts berthd on the existing BERTH_DIR (a restart keeps root and state).
berthd_launch() {
  # a restart appends to the log: wait for a boot line beyond those already there
  local booted
  booted=$(grep -c "successfully booted" "$BERTH_DIR/berthd.log" 2>/dev/null || true)
  "$BERTHD" --root "$BERTH_DIR/root" --state "$BERTH_DIR/state" --address "$BERTH_SOCK" \
    --config "$BERTH_DIR/config.toml" "$@" >>"$BERTH_DIR/berthd.log" 2>&1 3>&- &
  echo $! >"$BERTH_DIR/berthd.pid"
  berthd_wait_ready "${booted:-0}"
}

berthd_pid() {
  cat "$BERTH_DIR/berthd.pid" 2>/dev/null
}

# Waits until the daemon has logged that it is serving (bounded). With an argument: until the
# log has more boot lines than that (the instance just launched, not an earlier one).
berthd_wait_ready() {
  local i pid booted
  pid=$(berthd_pid)
  for i in $(seq 1 200); do
    booted=$(grep -c "successfully booted" "$BERTH_DIR/berthd.log" 2>/dev/null || true)
    if [ -n "${1:-}" ] && [ "${booted:-0}" -gt "$1" ]; then
      return 0
    fi
    if [ -z "${1:-}" ] && [ "${booted:-0}" -ge \
      "$(grep -c "starting berthd" "$BERTH_DIR/berthd.log" 2>/dev/null)" ] &&
      [ "${booted:-0}" -gt 0 ]; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
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

# SIGTERM, then waits (bounded) for the process to go; fails if it had to be killed or if it
# did not log a clean stop. The daemon may not be our child (setup_file started it).
berthd_terminate() {
  local pid i
  pid=$(berthd_pid)
  [ -n "$pid" ] || return 0
  rm -f "$BERTH_DIR/berthd.pid"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid"
    echo "berthd did not stop on SIGTERM" >&2
    return 1
  fi
  if [ "$(grep -c 'msg="berthd stopped"' "$BERTH_DIR/berthd.log")" -lt 1 ]; then
    echo "berthd did not stop cleanly:" >&2
    tail -20 "$BERTH_DIR/berthd.log" >&2
    return 1
  fi
}

berthd_restart() {
  berthd_terminate && berthd_launch "$@"
}

# Stops berthd and removes its directory, checking nothing is left mounted or listening.
berthd_stop() {
  [ -n "${BERTH_DIR:-}" ] || return 0
  local rc=0
  berthd_terminate || rc=$?
  if [ -e "$BERTH_SOCK" ]; then
    echo "socket $BERTH_SOCK left behind" >&2
    rc=1
  fi
  [ "$rc" -eq 0 ] || cat "$BERTH_DIR/berthd.log" >&2
  rm -rf "$BERTH_DIR"
  BERTH_DIR=
  return "$rc"
}

ctr() {
  "$CTR" --address "$BERTH_SOCK" "$@"
}

berth() {
  "$BERTH" --address "$BERTH_SOCK" "$@"
}
