#!/usr/bin/env bats
# Unpacking through the Diff service: Debian's real ctr (1.6) imports images and unpacks them on
# the client side through Snapshots + Diff.Apply; the merged tree honours whiteouts and opaque
# directories; hostile layers fail with a clear error and leave no mount behind.

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
  make_hostile_images
  write_apply_client
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

# Hostile OCI archives built with tests/images/build.py's helpers: hostile-1layer (the first layer:
# applied through a temp bind mount) and hostile-2layer (the second: the overlay upperdir path).
# Each hostile layer writes `../escape` (contained: lands inside the root) then hardlinks
# `evil` to /etc/shadow, which does not exist inside the root, so the layer fails.
make_hostile_images() {
  python3 - "$BERTH_SRC/tests/images" "$IMAGES" "$(dpkg --print-architecture)" <<'EOF'
import io, sys, tarfile
sys.path.insert(0, sys.argv[1])
import build as b

outdir, (arch, variant) = sys.argv[2], b.ARCHES[sys.argv[3]]

def hostile_layer(blobs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("../escape")
        info.size, info.mtime = 6, b.EPOCH
        tar.addfile(info, io.BytesIO(b"owned\n"))
        info = tarfile.TarInfo("evil")
        info.type, info.linkname, info.mtime = tarfile.LNKTYPE, "/etc/shadow", b.EPOCH
        tar.addfile(info)
    raw = buf.getvalue()
    gz = b.gzip_bytes(raw)
    return {"raw": raw, "diff_id": b.sha256(raw), "gz": gz,
            "desc": {"mediaType": b.MT_OCI_LAYER_GZIP, "digest": blobs.add(gz), "size": len(gz)}}

for n, name in ((1, "hostile-1layer"), (2, "hostile-2layer")):
    blobs = b.Blobs()
    layers = []
    if n == 2:
        layers.append(b.layer(blobs, [("etc", "dir", 0o755, None),
                                      ("etc/hostname", "file", 0o644, b"base\n")]))
    layers.append(hostile_layer(blobs))
    cfg = b.image_config(arch, variant, layers, ["layer"] * len(layers))
    m = b.manifest(blobs, cfg, layers)
    ref = "docker.io/library/busybox:" + name
    b.write(outdir, name + ".tar", b.oci_archive(blobs, m["desc"], ref, (m["config"], layers)))
EOF
}

# Diff.Apply called directly (Debian's python3-grpcio, classes from Berth's .proto files):
# apply.py MEDIA_TYPE DIGEST MOUNT_TYPE SOURCE [OPTION...] prints the applied descriptor or
# "error CODE MESSAGE".
write_apply_client() {
  mkdir -p "$BERTH_DIR/py"
  local p
  for p in containerd/services/diff/v1/diff.proto containerd/types/descriptor.proto \
    containerd/types/mount.proto; do
    protoc -I "$BERTH_SRC/proto" -I /usr/include --python_out="$BERTH_DIR/py" "$BERTH_SRC/proto/$p"
  done
  cat >"$BERTH_DIR/apply.py" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import grpc
from containerd.services.diff.v1 import diff_pb2
from containerd.types import descriptor_pb2, mount_pb2

sock, media_type, digest, mtype, source = sys.argv[2:7]
ch = grpc.insecure_channel("unix://" + sock)
apply = ch.unary_unary("/containerd.services.diff.v1.Diff/Apply",
                       request_serializer=diff_pb2.ApplyRequest.SerializeToString,
                       response_deserializer=diff_pb2.ApplyResponse.FromString)
req = diff_pb2.ApplyRequest(
    diff=descriptor_pb2.Descriptor(media_type=media_type, digest=digest),
    mounts=[mount_pb2.Mount(type=mtype, source=source, options=sys.argv[7:])])
try:
    r = apply(req, metadata=[("containerd-namespace", "default")], timeout=30)
    print(r.applied.media_type, r.applied.digest, r.applied.size)
except grpc.RpcError as e:
    print("error", e.code().name, e.details())
EOF
}

apply_layer() {
  /usr/bin/python3 "$BERTH_DIR/apply.py" "$BERTH_DIR/py" "$BERTH_SOCK" "$@"
}

# The digest of layer N (0-based) of an OCI archive's image, and its diff_id.
layer_of() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
blob = lambda d: t.extractfile("blobs/sha256/" + d.split(":")[1]).read()
idx = json.loads(t.extractfile("index.json").read())
m = json.loads(blob(idx["manifests"][0]["digest"]))
cfg = json.loads(blob(m["config"]["digest"]))
n = int(sys.argv[2])
print(m["layers"][n]["digest"], cfg["rootfs"]["diff_ids"][n])
EOF
}

# Nothing of this daemon's is mounted, and the diff plugin's temp mount directory is empty.
assert_no_mounts_left() {
  if grep -F "$BERTH_DIR" /proc/self/mountinfo; then
    echo "mounts left under $BERTH_DIR" >&2
    return 1
  fi
  local tmp="$BERTH_DIR/state/io.containerd.differ.v1.walking/tmpmounts"
  if [ -d "$tmp" ] && [ -n "$(ls -A "$tmp")" ]; then
    echo "temp mount directories left: $(ls -A "$tmp")" >&2
    return 1
  fi
}

# `ctr images check` prints REF TYPE DIGEST STATUS SIZE UNPACKED; the last column is unpacked.
unpacked_of() {
  ctr images check "name==$1" | awk -v ref="$1" '$1 == ref { print $NF }'
}

@test "diff and walking differ plugins are loaded" {
  run ctr plugins ls
  [ "$status" -eq 0 ]
  [[ "$output" =~ io\.containerd\.grpc\.v1[[:space:]]+diff[[:space:]].*ok ]]
  [[ "$output" =~ io\.containerd\.differ\.v1[[:space:]]+walking[[:space:]].*ok ]]
}

@test "ctr images import unpacks the one-layer image" {
  run ctr images import "$IMAGES/busybox-oci.tar"
  [ "$status" -eq 0 ]
  [[ "$output" == *"unpacking docker.io/library/busybox:latest"*"done"* ]]
  [ "$(unpacked_of docker.io/library/busybox:latest)" = "true" ]
  run ctr snapshots ls
  [ "$status" -eq 0 ]
  [ "$(grep -c Committed <<<"$output")" -eq 1 ]
  assert_no_mounts_left
}

@test "ctr images import unpacks the three-layer image as a committed chain" {
  run ctr images import "$IMAGES/busybox-3layer-oci.tar"
  [ "$status" -eq 0 ]
  [[ "$output" == *"unpacking docker.io/library/busybox:3layer"*"done"* ]]
  [ "$(unpacked_of docker.io/library/busybox:3layer)" = "true" ]
  # the base layer is shared with busybox:latest: three committed snapshots, a chain
  run ctr snapshots ls
  [ "$status" -eq 0 ]
  [ "$(grep -c Committed <<<"$output")" -eq 3 ]
  ! grep -q Active <<<"$output"
  [ "$(awk 'NR > 1 && NF == 3' <<<"$output" | wc -l)" -eq 2 ] # two have a parent
  [ "$(awk 'NR > 1 && NF == 2' <<<"$output" | wc -l)" -eq 1 ] # one is the root
  assert_no_mounts_left
}

@test "the three-layer image mounts as the merged tree: whiteout and opaque directory honoured" {
  local m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  run ctr images mount docker.io/library/busybox:3layer "$m"
  [ "$status" -eq 0 ]
  [ -x "$m/bin/busybox" ]
  [ -f "$m/etc/passwd" ]
  [ ! -e "$m/etc/motd" ]     # deleted by the second layer's .wh.motd
  [ "$(ls -A "$m/data")" = "b" ] # the third layer's opaque /data hides the second's a
  [ "$(cat "$m/data/b")" = "b" ]
  run ctr images unmount --rm "$m"
  [ "$status" -eq 0 ]
  assert_no_mounts_left
}

@test "the one-layer image mounts with its motd" {
  local m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  run ctr images mount docker.io/library/busybox:latest "$m"
  [ "$status" -eq 0 ]
  [ "$(cat "$m/etc/motd")" = "berth test image" ]
  run ctr images unmount --rm "$m"
  [ "$status" -eq 0 ]
  assert_no_mounts_left
}

@test "a hostile first layer (temp bind mount) fails clearly and leaves no mount" {
  run ctr images import "$IMAGES/hostile-1layer.tar"
  [ "$status" -ne 0 ]
  [[ "$output" == *"mount callback failed on"*"evil"* ]]
  [ ! -e "$BERTH_DIR/escape" ]
  [ ! -e "$BERTH_DIR/state/escape" ]
  [ ! -e /escape ]
  run ctr snapshots ls
  ! grep -q Active <<<"$output"
  assert_no_mounts_left
}

@test "a hostile upper layer (overlay upperdir) fails clearly and leaves no mount" {
  run ctr images import "$IMAGES/hostile-2layer.tar"
  [ "$status" -ne 0 ]
  [[ "$output" == *"evil"* ]]
  [[ "$output" != *"mount callback failed"* ]] # applied straight into the upperdir
  [ ! -e /escape ]
  run ctr snapshots ls
  ! grep -q Active <<<"$output"
  assert_no_mounts_left
}

@test "images still unpacked after the failures, and ctr images check agrees" {
  [ "$(unpacked_of docker.io/library/busybox:latest)" = "true" ]
  [ "$(unpacked_of docker.io/library/busybox:3layer)" = "true" ]
  assert_no_mounts_left
}

@test "Diff.Apply onto a bind mount answers the uncompressed descriptor" {
  read -r digest diff_id < <(layer_of "$IMAGES/busybox-3layer-oci.tar" 1)
  local dir="$BERTH_DIR/applied"
  mkdir -p "$dir"
  run apply_layer application/vnd.oci.image.layer.v1.tar+gzip "$digest" bind "$dir" rbind rw
  [ "$status" -eq 0 ]
  [[ "$output" == "application/vnd.oci.image.layer.v1.tar $diff_id "* ]]
  [ "$(cat "$dir/data/a")" = "a" ]
  # a docker media type is accepted the same way
  run apply_layer application/vnd.docker.image.rootfs.diff.tar.gzip "$digest" bind "$dir" rbind
  [[ "$output" == "application/vnd.oci.image.layer.v1.tar $diff_id "* ]]
  assert_no_mounts_left
}

@test "Diff.Apply errors read as containerd's and leave no mount" {
  read -r digest _ < <(layer_of "$IMAGES/busybox-3layer-oci.tar" 1)
  local dir="$BERTH_DIR/applied2"
  mkdir -p "$dir"
  run apply_layer application/x-unknown "$digest" bind "$dir" rbind
  [ "$output" = "error UNKNOWN failed to get stream processor for application/x-unknown: no processor for media-type" ]
  run apply_layer application/vnd.oci.image.layer.v1.tar+gzip+encrypted "$digest" bind "$dir" rbind
  [[ "$output" == "error UNIMPLEMENTED failed to get stream processor for "*"+encrypted: no processor for media-type"* ]]
  run apply_layer application/vnd.oci.image.layer.v1.tar+gzip "sha256:$(printf '%064d' 0)" bind "$dir" rbind
  [[ "$output" == "error NOT_FOUND failed to get reader from content store"* ]]
  run apply_layer application/vnd.oci.image.layer.v1.tar+gzip "$digest" bind "$BERTH_DIR/nonexistent" rbind
  [[ "$output" == "error NOT_FOUND failed to mount "* ]]
  # the hostile layer (../escape, then a hardlink to /etc/shadow) through a bind mount
  read -r digest _ < <(layer_of "$IMAGES/hostile-1layer.tar" 0)
  run apply_layer application/vnd.oci.image.layer.v1.tar+gzip "$digest" bind "$dir" rbind
  [[ "$output" == "error NOT_FOUND mount callback failed on "*"apply evil: link to /etc/shadow"* ]]
  [ "$(cat "$dir/escape")" = "owned" ] # `..` stops at the root
  [ ! -e "$BERTH_DIR/escape" ]
  assert_no_mounts_left
  [ -z "$(ls -A "$dir")" ] || [ "$(ls -A "$dir")" = "escape" ]
}
