#!/usr/bin/env bash
# Compares one of our .proto files with the file it must match in containerd's source (messages,
# fields, numbers, types, labels), via protoc's descriptors; exits 77 (skip) without the mirror.
# usage: check_contract.sh <proto_root> <our file relative to proto_root> <git ref:path in containerd>
set -euo pipefail
root=$1 ours=$2 theirs_ref=$3
repo=${CONTAINERD_MIRROR:-/work/.mirror/containerd+containerd/repo}
wkt=${PROTOBUF_INCLUDE:-/usr/include}
if ! command -v protoc >/dev/null || [ ! -d "$repo" ] || ! git -C "$repo" cat-file -e "$theirs_ref" 2>/dev/null; then
  echo "skip: protoc or containerd's source ($repo, $theirs_ref) not available"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/theirs"
git -C "$repo" show "$theirs_ref" > "$tmp/theirs/x.proto"
protoc -I"$tmp/theirs" --descriptor_set_out="$tmp/theirs.pb" x.proto
protoc -I"$root" --descriptor_set_out="$tmp/ours.pb" "$ours"
# Drop the file name and file options (go_package); everything else must be identical.
describe() {
  protoc -I"$wkt" --decode=google.protobuf.FileDescriptorSet google/protobuf/descriptor.proto < "$1" |
    sed -e '/^  name: /d' -e '/^  options {/,/^  }/d'
}
describe "$tmp/theirs.pb" > "$tmp/theirs.txt"
describe "$tmp/ours.pb" > "$tmp/ours.txt"
if ! diff -u "$tmp/theirs.txt" "$tmp/ours.txt"; then
  echo "FAIL: $ours differs from containerd's $theirs_ref"
  exit 1
fi
echo "ok: $ours matches $theirs_ref ($(grep -c '^    name:' "$tmp/ours.txt") messages)"
