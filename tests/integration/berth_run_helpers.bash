# Helpers for berth_run_common.bash: a daemon to run containers on, in its own temporary
# directory. BERTH_RUN_DAEMON picks it: "containerd" (Debian's stock daemon, the default of
# berth_run.bats) or "berthd" (what berth_run_berthd.bats sets).

BERTH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BERTH_BUILD="${BERTH_BUILD_DIR:-$BERTH_SRC/build}"
BERTH="$BERTH_BUILD/cmd/berth/berth"
BERTHD="$BERTH_BUILD/cmd/berthd/berthd"
RUN_DAEMON="${BERTH_RUN_DAEMON:-containerd}"

# Starts the daemon; sets RUN_DIR and CONTAINERD_ADDRESS (which berth and ctr both read).
run_daemon_start() {
  RUN_DIR="$(mktemp -d /tmp/berth-run.XXXXXX)"
  export RUN_DIR
  local log="$RUN_DIR/daemon.log"
  case "$RUN_DAEMON" in
  containerd)
    CONTAINERD_ADDRESS="$RUN_DIR/containerd.sock"
    cat >"$RUN_DIR/config.toml" <<TOML
version = 2
root = "$RUN_DIR/root"
state = "$RUN_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CONTAINERD_ADDRESS"
TOML
    containerd --config "$RUN_DIR/config.toml" >"$log" 2>&1 3>&- &
    ;;
  berthd)
    CONTAINERD_ADDRESS="$RUN_DIR/state/berth.sock"
    echo 'version = 3' >"$RUN_DIR/config.toml"
    "$BERTHD" --root "$RUN_DIR/root" --state "$RUN_DIR/state" --address "$CONTAINERD_ADDRESS" \
      --config "$RUN_DIR/config.toml" >"$log" 2>&1 3>&- &
    ;;
  *)
    echo "BERTH_RUN_DAEMON must be containerd or berthd" >&2
    return 1
    ;;
  esac
  echo $! >"$RUN_DIR/daemon.pid"
  export CONTAINERD_ADDRESS
  local i
  for i in $(seq 1 200); do
    if [ -S "$CONTAINERD_ADDRESS" ] && ctr version >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$(cat "$RUN_DIR/daemon.pid")" 2>/dev/null || break
    sleep 0.05
  done
  echo "$RUN_DAEMON did not become ready:" >&2
  cat "$log" >&2
  return 1
}

# Removes every task and container left, stops the daemon and removes its directory.
run_daemon_stop() {
  [ -n "${RUN_DIR:-}" ] || return 0
  local id pid i
  for id in $(ctr tasks ls -q 2>/dev/null); do
    ctr tasks kill -a -s KILL "$id" >/dev/null 2>&1 || true
    ctr tasks delete -f "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr containers ls -q 2>/dev/null); do
    ctr containers delete "$id" >/dev/null 2>&1 || true
  done
  pid=$(cat "$RUN_DIR/daemon.pid" 2>/dev/null)
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # shims of this daemon exit with their tasks; mounts under the root go with the daemon
  grep -F "$RUN_DIR" /proc/self/mountinfo | awk '{ print $5 }' | sort -r |
    xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$RUN_DIR"
}

berth() {
  "$BERTH" "$@"
}

# The active (container) snapshots, one key a line.
active_snapshots() {
  ctr snapshots ls | awk 'NR > 1 && $NF == "Active" { print $1 }'
}
