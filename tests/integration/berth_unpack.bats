#!/usr/bin/env bats
# berth images import unpacks as containerd's unpacker does (same committed chain as ctr's own
# unpack), and berth images mount/unmount work as ctr 1.6's, interchangeably with ctr's.

load helpers

setup_file() {
  berthd_start
  IMAGES="$BERTH_DIR/images"
  WORK="$BERTH_DIR/work"
  export IMAGES WORK
  mkdir -p "$WORK"
  local rc=0
  bash "$BERTH_SRC/tests/images/build.sh" "$IMAGES" >"$WORK/build-images.log" 2>&1 || rc=$?
  if [ "$rc" -eq 77 ]; then
    export SKIP_ALL="busybox-static is missing: tests/images/build.sh cannot build test images"
    return 0
  fi
  [ "$rc" -eq 0 ] || {
    cat "$WORK/build-images.log" >&2
    return 1
  }
}

teardown_file() {
  if [ -n "${BERTH_DIR:-}" ] && [ -d "$BERTH_DIR/mnt" ]; then
    umount -R "$BERTH_DIR/mnt" 2>/dev/null || true
  fi
  berthd_stop
}

setup() {
  [ -z "${SKIP_ALL:-}" ] || skip "$SKIP_ALL"
  [ "$(id -u)" -eq 0 ] || skip "unpacking needs root (mounts, mknod whiteouts)"
}

assert_no_mounts_left() {
  if grep -F "$BERTH_DIR" /proc/self/mountinfo; then
    echo "mounts left under $BERTH_DIR" >&2
    return 1
  fi
}

# The UNPACKED column of `ctr images check` for one image.
unpacked_of() {
  ctr "${@:2}" images check "name==$1" | awk -v ref="$1" '$1 == ref { print $NF }'
}

# Committed snapshots as "NAME PARENT" lines, sorted.
committed() {
  ctr "$@" snapshots ls | awk 'NR > 1 && $NF == "Committed" { print $1, (NF == 3 ? $2 : "-") }' |
    sort
}

@test "berth images import unpacks the one-layer image" {
  run berth images import "$IMAGES/busybox-oci.tar"
  [ "$status" -eq 0 ]
  [ "$(unpacked_of docker.io/library/busybox:latest)" = "true" ]
  [ "$(committed | wc -l)" -eq 1 ]
  ! ctr snapshots ls | grep -q Active
  # the config carries the gc reference to the top snapshot
  local top
  top=$(committed | awk '{ print $1 }')
  run ctr content ls
  [[ "$output" == *"containerd.io/gc.ref.snapshot.overlayfs=$top"* ]]
  run ctr snapshots info "$top"
  [[ "$output" == *"\"containerd.io/snapshot.ref\": \"$top\""* ]]
  assert_no_mounts_left
}

@test "berth images import unpacks the three-layer image as ctr's own unpack does" {
  run berth images import "$IMAGES/busybox-3layer-oci.tar"
  [ "$status" -eq 0 ]
  [ "$(unpacked_of docker.io/library/busybox:3layer)" = "true" ]
  [ "$(committed | wc -l)" -eq 3 ]
  [ "$(committed | awk '$2 != "-"' | wc -l)" -eq 2 ]
  ! ctr snapshots ls | grep -q Active
  # ctr's own unpack in another namespace commits the same chain
  run ctr -n other images import "$IMAGES/busybox-3layer-oci.tar"
  [ "$status" -eq 0 ]
  [ "$(unpacked_of docker.io/library/busybox:3layer -n other)" = "true" ]
  diff <(committed) <(committed -n other)
  # importing again finds everything unpacked and changes nothing
  run berth images import "$IMAGES/busybox-3layer-oci.tar"
  [ "$status" -eq 0 ]
  [ "$(committed | wc -l)" -eq 3 ]
  assert_no_mounts_left
}

@test "berth images import --local prints ctr's unpacking lines" {
  run berth -n local images import --local "$IMAGES/busybox-oci.tar"
  [ "$status" -eq 0 ]
  [[ "$output" == *"unpacking docker.io/library/busybox:latest (sha256:"*")...done"* ]]
  [ "$(unpacked_of docker.io/library/busybox:latest -n local)" = "true" ]
}

@test "berth images mount shows the merged three-layer tree; unmount --rm leaves nothing" {
  local m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  run berth images mount docker.io/library/busybox:3layer "$m"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "$(committed | awk '$2 != "-" { print $1 }' | while read -r s; do
    committed | awk -v s="$s" '$2 == s' | grep -q . || echo "$s"
  done)" ] # the chain ID of the top layer
  [ "${lines[1]}" = "$m" ]
  grep -qF " $m " /proc/self/mountinfo
  [ -x "$m/bin/busybox" ]
  [ -f "$m/etc/passwd" ]
  [ ! -e "$m/etc/motd" ]         # deleted by the second layer's .wh.motd
  [ "$(ls -A "$m/data")" = "b" ] # the third layer's opaque /data hides the second's a
  [ "$(cat "$m/data/b")" = "b" ]
  # read-only by default
  ! touch "$m/newfile" 2>/dev/null
  ctr snapshots ls | grep -qF "$m"
  run berth images unmount --rm "$m"
  [ "$status" -eq 0 ]
  [ "$output" = "$m" ]
  assert_no_mounts_left
  ! ctr snapshots ls | grep -qF "$m"
  ! ctr leases ls | grep -qF "$m"
}

@test "berth images mount --rw gives a writable snapshot" {
  local m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  run berth images mount --rw docker.io/library/busybox:latest "$m"
  [ "$status" -eq 0 ]
  [ "$(cat "$m/etc/motd")" = "berth test image" ]
  echo hi >"$m/newfile"
  ctr snapshots ls | grep -F "$m" | grep -q Active
  run berth images unmount --rm "$m"
  [ "$status" -eq 0 ]
  assert_no_mounts_left
  ! ctr snapshots ls | grep -qF "$m"
}

@test "berth images mount unpacks an image imported with --no-unpack" {
  run berth -n lazy images import --no-unpack "$IMAGES/busybox-3layer-oci.tar"
  [ "$status" -eq 0 ]
  [ "$(unpacked_of docker.io/library/busybox:3layer -n lazy)" = "false" ]
  local m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  run berth -n lazy images mount docker.io/library/busybox:3layer "$m"
  [ "$status" -eq 0 ]
  [ "$(cat "$m/data/b")" = "b" ]
  [ "$(unpacked_of docker.io/library/busybox:3layer -n lazy)" = "true" ]
  run berth -n lazy images unmount --rm "$m"
  [ "$status" -eq 0 ]
  assert_no_mounts_left
}

@test "ctr images mount works on an image berth unpacked" {
  local m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  run ctr images mount docker.io/library/busybox:3layer "$m"
  [ "$status" -eq 0 ]
  [ ! -e "$m/etc/motd" ]
  [ "$(ls -A "$m/data")" = "b" ]
  run ctr images unmount --rm "$m"
  [ "$status" -eq 0 ]
  assert_no_mounts_left
  ! ctr snapshots ls | grep -qF "$m"
}

@test "berth images unmount of a path with nothing mounted succeeds" {
  local m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  run berth images unmount --rm "$m"
  [ "$status" -eq 0 ]
  [ "$output" = "$m" ]
}

@test "berth images mount of a missing image fails and leaves no lease" {
  local m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  run berth images mount docker.io/library/nothing:here "$m"
  [ "$status" -ne 0 ]
  [[ "$output" == *"not found"* ]]
  ! ctr leases ls | grep -qF "$m"
  assert_no_mounts_left
}
