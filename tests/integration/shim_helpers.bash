# Helpers for the shim tests: Debian's stock containerd (1.6) in a temporary root/state/socket,
# with Berth's containerd-shim-berth-v2 first on its PATH, driven by Debian's ctr.

BERTH_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BERTH_BUILD="${BERTH_BUILD_DIR:-$BERTH_SRC/build}"
SHIM_BIN="$BERTH_BUILD/cmd/shim/containerd-shim-berth-v2"
RUNTIME=io.containerd.berth.v2
IMAGE=docker.io/library/busybox:latest

shim_containerd_start() {
  SHIM_DIR="$(mktemp -d /tmp/berth-shim-it.XXXXXX)"
  export SHIM_DIR
  mkdir -p "$SHIM_DIR/bin"
  ln -s "$SHIM_BIN" "$SHIM_DIR/bin/containerd-shim-berth-v2"
  cat >"$SHIM_DIR/config.toml" <<TOML
version = 2
root = "$SHIM_DIR/root"
state = "$SHIM_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SHIM_DIR/c.sock"
TOML
  PATH="$SHIM_DIR/bin:$PATH" containerd --config "$SHIM_DIR/config.toml" \
    >"$SHIM_DIR/containerd.log" 2>&1 3>&- &
  echo $! >"$SHIM_DIR/containerd.pid"
  local i
  for i in $(seq 1 100); do
    ctr -a "$SHIM_DIR/c.sock" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  bash "$BERTH_SRC/tests/images/build.sh" "$SHIM_DIR/images" >/dev/null 2>&1
  c images import "$SHIM_DIR/images/busybox-oci.tar" >/dev/null
}

c() {
  ctr -a "$SHIM_DIR/c.sock" "$@"
}

# Shims of this containerd (their command lines name its socket).
shim_pids() {
  pgrep -f "containerd-shim-berth-v2 .*-address $SHIM_DIR/c.sock" || true
}

shim_containerd_stop() {
  [ -n "${SHIM_DIR:-}" ] || return 0
  local pid
  pid=$(cat "$SHIM_DIR/containerd.pid" 2>/dev/null)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  for pid in $(shim_pids); do kill -9 "$pid" 2>/dev/null; done
  # snapshots are mounted by containerd; leave nothing mounted under the test dir
  grep -o " $SHIM_DIR[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$SHIM_DIR"
}
