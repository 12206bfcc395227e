#!/usr/bin/env bats
# Diff (compare) through Debian's real ctr: a changed snapshot becomes a layer with whiteouts.

load helpers

setup_file() {
  berthd_start
  IMAGES="$BERTH_DIR/images"
  bash "$BERTH_SRC/tests/images/build.sh" "$IMAGES" >/dev/null
  export IMAGES
}

teardown_file() {
  umount "$BERTH_DIR/m" 2>/dev/null || true
  berthd_stop
}

@test "ctr snapshots diff of a changed snapshot lists additions and a whiteout, deterministically" {
  ctr images import "$IMAGES/busybox-oci.tar" >/dev/null
  top=$(ctr snapshots ls | awk 'NR == 2 {print $1}')
  [ -n "$top" ]
  ctr snapshots prepare work "$top" >/dev/null
  mkdir -p "$BERTH_DIR/m"
  ctr snapshots mounts "$BERTH_DIR/m" work | sh
  echo new >"$BERTH_DIR/m/newfile"
  rm -f "$BERTH_DIR/m/bin/ls"
  umount "$BERTH_DIR/m"
  # the first diff carries a root label, so the blob outlives ctr's temporary lease (a later
  # diff of the same change finds it present and, as containerd, only adds the uncompressed label)
  ctr snapshots diff --label containerd.io/gc.root=yes work >"$BERTH_DIR/diff1.tgz"
  ctr snapshots diff work >"$BERTH_DIR/diff2.tgz"
  cmp "$BERTH_DIR/diff1.tgz" "$BERTH_DIR/diff2.tgz"
  run tar tzf "$BERTH_DIR/diff1.tgz"
  [ "$status" -eq 0 ]
  [[ "$output" == *"bin/.wh.ls"* ]]
  [[ "$output" == *"newfile"* ]]
  [ "$(echo "$output" | wc -l)" -eq 3 ] # bin/, bin/.wh.ls, newfile
  # the layer is in the content store with its uncompressed digest
  d="sha256:$(sha256sum "$BERTH_DIR/diff1.tgz" | cut -d' ' -f1)"
  u="sha256:$(gunzip -c "$BERTH_DIR/diff1.tgz" | sha256sum | cut -d' ' -f1)"
  run ctr content ls
  echo "$output" | grep -F "$d" | grep -qF "containerd.io/uncompressed=$u" ||
    { echo "want $d with $u in:"; echo "$output"; false; }
  # no mounts of the differ left behind
  ! grep -q "$BERTH_DIR" /proc/self/mountinfo
}

@test "an unsupported media type is refused" {
  run ctr snapshots diff --media-type application/x-unknown work
  [ "$status" -ne 0 ]
  [[ "$output" == *"unsupported diff media type"* ]]
}

@test "berth snapshots diff writes the same layer as ctr snapshots diff" {
  ctr snapshots diff work >"$BERTH_DIR/ctr.tgz"
  berth snapshots diff work >"$BERTH_DIR/berth.tgz"
  cmp "$BERTH_DIR/ctr.tgz" "$BERTH_DIR/berth.tgz"
  # explicit lower snapshot: the committed parent
  top=$(ctr snapshots ls | awk '/Committed/ {print $1; exit}')
  berth snapshots diff work "$top" >"$BERTH_DIR/berth2.tgz"
  cmp "$BERTH_DIR/ctr.tgz" "$BERTH_DIR/berth2.tgz"
  # its temporary views are gone
  [ "$(ctr snapshots ls | grep -c view)" -eq 0 ]
}
