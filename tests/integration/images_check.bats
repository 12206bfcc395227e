#!/usr/bin/env bats
# berth images check against Debian's ctr 1.6 images check: the same table, statuses, sizes,
# -q output and errors while content goes missing. Test images come from tests/images/build.sh.

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
  berthd_stop
}

setup() {
  [ -z "${SKIP_ALL:-}" ] || skip "$SKIP_ALL"
}

# A field of tests/images/images.json: image_field <archive> <key> [index].
image_field() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))["images"][sys.argv[2]][sys.argv[3]]
print(v[int(sys.argv[4])] if len(sys.argv) > 4 else v)' "$IMAGES/images.json" "$@"
}

# Runs both checks with the same arguments; their stdout and exit status must agree.
check_both() {
  run ctr images check "$@"
  ctr_status=$status
  ctr_output=$output
  run berth images check "$@"
  echo "ctr ($ctr_status):" >&2
  echo "$ctr_output" >&2
  echo "berth ($status):" >&2
  echo "$output" >&2
  [ "$status" -eq "$ctr_status" ]
  [ "$output" = "$ctr_output" ]
}

# Only stdout: the table, without either tool's error lines.
stdout_both() {
  ctr_out=$(ctr images check "$@" 2>/dev/null) || true
  berth_out=$(berth images check "$@" 2>/dev/null) || true
  echo "ctr:" >&2
  echo "$ctr_out" >&2
  echo "berth:" >&2
  echo "$berth_out" >&2
  [ "$berth_out" = "$ctr_out" ]
}

@test "no images: both print nothing and succeed" {
  check_both
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "imported images are complete, with ctr's table, sizes and counts" {
  ctr images import --no-unpack "$IMAGES/busybox-oci.tar"
  ctr images import --no-unpack "$IMAGES/busybox-multi-oci.tar"
  check_both
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 3 ]
  [[ "${lines[0]}" == "REF "*"TYPE "*"DIGEST "*"STATUS "*"SIZE "*"UNPACKED " ]]
  # config + layer; the manifest (and index) are not counted
  [[ "${lines[1]}" == "docker.io/library/busybox:latest "*" complete (2/2) "*" false" ]]
  [[ "${lines[2]}" == "docker.io/library/busybox:multi "*"application/vnd.oci.image.index.v1+json"*" complete (2/2) "*" false" ]]
  check_both -q
  [ "${lines[*]}" = "docker.io/library/busybox:latest docker.io/library/busybox:multi" ]
  check_both --quiet name==docker.io/library/busybox:multi
  [ "$output" = "docker.io/library/busybox:multi" ]
  check_both "name~=multi"
  [ "${#lines[@]}" -eq 2 ]
  check_both --snapshotter native
}

@test "a missing layer makes only its image incomplete; -q leaves it out" {
  ctr images import --no-unpack "$IMAGES/busybox-3layer-oci.tar"
  check_both
  [[ "$output" == *"docker.io/library/busybox:3layer "*" complete (4/4) "* ]]
  ctr content rm "$(image_field busybox-3layer-oci.tar layers 1)"
  check_both
  [ "$status" -eq 0 ]
  [[ "$output" == *"docker.io/library/busybox:3layer "*" incomplete (3/4) "* ]]
  [[ "$output" == *"docker.io/library/busybox:latest "*" complete (2/2) "* ]]
  check_both -q
  [ "${lines[*]}" = "docker.io/library/busybox:latest docker.io/library/busybox:multi" ]
}

@test "after ctr content rm of the shared layer every image is incomplete" {
  ctr content rm "$(image_field busybox-oci.tar layers 0)"
  check_both
  [ "$status" -eq 0 ]
  [[ "${lines[1]}" == "docker.io/library/busybox:3layer "*" incomplete (2/4) "* ]]
  [[ "${lines[2]}" == "docker.io/library/busybox:latest "*" incomplete (1/2) "* ]]
  [[ "${lines[3]}" == "docker.io/library/busybox:multi "*" incomplete (1/2) "* ]]
  check_both -q
  [ -z "$output" ]
}

@test "an unknown snapshotter fails as ctr does, after the table" {
  stdout_both --snapshotter nope
  run berth images check --snapshotter nope name==docker.io/library/busybox:latest
  [ "$status" -ne 0 ]
  [[ "$output" == *"berth: unable to check unpack for docker.io/library/busybox:latest: "* ]]
}

@test "a missing manifest makes images unavailable and the check fail" {
  ctr content rm "$(image_field busybox-oci.tar manifest)"
  stdout_both
  run ctr images check
  [ "$status" -ne 0 ]
  ctr_error=${lines[${#lines[@]} - 1]#ctr: }
  run berth images check
  [ "$status" -ne 0 ]
  [[ "$output" == *"docker.io/library/busybox:latest "*" unavailable (0/?) "*"0.0 B/? "* ]]
  [ "${lines[${#lines[@]} - 1]}" = "berth: $ctr_error" ]
  stdout_both -q
}
