#!/usr/bin/env bash
# Encodes this shell's real cgroup Metrics with cgroups-dump and decodes them with protoc and
# containerd's own vendored metrics.proto: our bytes must read as containerd's message.
# Skips (77) without protoc, containerd's source or usable cgroups.
set -euo pipefail
dump=$1
repo=${CONTAINERD_MIRROR:-/work/.mirror/containerd+containerd/repo}
command -v protoc >/dev/null || { echo "skip: no protoc"; exit 77; }
[ -d "$repo" ] || { echo "skip: no containerd source at $repo"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$dump" $$ > "$tmp/metrics.bin" 2> "$tmp/type"; then
  echo "skip: $(cat "$tmp/type")"
  exit 77
fi
type=$(cat "$tmp/type")
case "$type" in
  io.containerd.cgroups.v1.Metrics) v=1 ;;
  io.containerd.cgroups.v2.Metrics) v=2 ;;
  *) echo "FAIL: unexpected type $type"; exit 1 ;;
esac
mkdir "$tmp/proto"
git -C "$repo" show "v2.0.0:vendor/github.com/containerd/cgroups/v3/cgroup$v/stats/metrics.proto" \
  > "$tmp/proto/metrics.proto"
protoc -I"$tmp/proto" --decode="$type" metrics.proto < "$tmp/metrics.bin" > "$tmp/decoded.txt"
cat "$tmp/decoded.txt" | head -40
# Spot checks that the fields landed under containerd's names.
if [ "$v" = 1 ]; then
  want=('^cpu \{' '^memory \{' '^  usage \{' '^blkio \{')
else
  want=('^cpu \{' '^memory \{' '^pids \{')
fi
for w in "${want[@]}"; do
  grep -Eq "$w" "$tmp/decoded.txt" || { echo "FAIL: no match for $w in the decoded message"; exit 1; }
done
# And the decoded message re-encodes to exactly our bytes (no unknown or misplaced fields).
protoc -I"$tmp/proto" --encode="$type" metrics.proto < "$tmp/decoded.txt" > "$tmp/again.bin"
cmp "$tmp/metrics.bin" "$tmp/again.bin" || { echo "FAIL: re-encoding differs"; exit 1; }
echo "ok: $type ($(stat -c %s "$tmp/metrics.bin") bytes) decodes with containerd's schema"
