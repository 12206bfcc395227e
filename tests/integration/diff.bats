#!/usr/bin/env bats
# Diff (compare) through Debian's real ctr: a changed snapshot becomes a layer with whiteouts.

load helpers

setup_file() {
  # debug logs say which differ path ran ("diff created" ... path=overlay|walking)
  berthd_start --log-level debug
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
  # both diffs took the overlay fast path (work's upperdir read against its parent's view)
  [ "$(grep 'msg="diff created"' "$BERTH_DIR/berthd.log" | grep -c 'path=overlay')" -eq 2 ]
  ! grep 'msg="diff created"' "$BERTH_DIR/berthd.log" | grep -q 'path=walking'
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
  ! grep 'msg="diff created"' "$BERTH_DIR/berthd.log" | grep -q 'path=walking'
}

@test "committed layers diffed against their parents take the overlay path and mean the same" {
  # every image layer with a parent: its view is an overlay whose first lowerdir is the layer, the
  # parent's view is the rest (the top layer deletes a file and replaces a directory)
  ctr images import "$IMAGES/busybox-3layer-oci.tar" >/dev/null
  n=0
  for snap in $(ctr snapshots ls | awk '$3 == "Committed" && $2 != "" {print $1}'); do
    parent=$(ctr snapshots ls | awk -v s="$snap" '$1 == s {print $2}')
    before=$(grep -c 'path=overlay' "$BERTH_DIR/berthd.log")
    ctr snapshots diff "$snap" >"$BERTH_DIR/layer.tgz"
    [ "$(grep -c 'path=overlay' "$BERTH_DIR/berthd.log")" -eq $((before + 1)) ]
    # the layer applied (OCI whiteouts by deletion) onto the parent's tree gives the snapshot's
    mkdir -p "$BERTH_DIR/msnap" "$BERTH_DIR/mpar"
    ctr snapshots view snap-view "$snap" >/dev/null
    ctr snapshots view par-view "$parent" >/dev/null
    # rooted, so removing one does not let garbage collection take the other
    ctr snapshots label snap-view containerd.io/gc.root=yes >/dev/null
    ctr snapshots label par-view containerd.io/gc.root=yes >/dev/null
    ctr snapshots mounts "$BERTH_DIR/msnap" snap-view | sh
    ctr snapshots mounts "$BERTH_DIR/mpar" par-view | sh
    rm -rf "$BERTH_DIR/check" && mkdir "$BERTH_DIR/check"
    cp -a "$BERTH_DIR/mpar/." "$BERTH_DIR/check/"
    umount "$BERTH_DIR/mpar"
    tar xzf "$BERTH_DIR/layer.tgz" -C "$BERTH_DIR/check"
    ! find "$BERTH_DIR/check" -name '.wh..wh..opq' | grep -q . # the walker never writes these
    find "$BERTH_DIR/check" -name '.wh.*' | while read -r w; do
      rm -rf "$(dirname "$w")/$(basename "$w" | cut -c5-)" "$w"
    done
    diff -r --no-dereference "$BERTH_DIR/msnap" "$BERTH_DIR/check"
    umount "$BERTH_DIR/msnap"
    ctr snapshots rm snap-view par-view
    n=$((n + 1))
  done
  [ "$n" -ge 2 ]
  ! grep -q "$BERTH_DIR" /proc/self/mountinfo
}
