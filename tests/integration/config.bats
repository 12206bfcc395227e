#!/usr/bin/env bats
# containerd's config files: default, migrate, dump, deprecation warnings, bad files.

load helpers

TESTDATA="$BERTH_SRC/core/config/testdata"

teardown() {
  berthd_stop || true
}

@test "berthd config default prints a version 3 config with plugin defaults" {
  run "$BERTHD" config default
  [ "$status" -eq 0 ]
  [[ "$output" == *"version = 3"* ]]
  [[ "$output" == *"root = \"/var/lib/berth\""* ]]
  [[ "$output" == *"io.containerd.metadata.v1.bolt"* ]]
  [[ "$output" == *"content_sharing_policy = \"shared\""* ]]
  # and it is a config berthd accepts as is
  dir=$(mktemp -d /tmp/berth-it.XXXXXX)
  echo "$output" >"$dir/default.toml"
  run "$BERTHD" --config "$dir/default.toml" config dump
  rm -rf "$dir"
  [ "$status" -eq 0 ]
}

@test "berthd config migrate turns version 1 and 2 files into version 3" {
  for v in v1 v2; do
    run "$BERTHD" --config "$TESTDATA/$v.toml" config migrate
    [ "$status" -eq 0 ]
    [[ "$output" == *"version = 3"* ]]
    # the CRI plugin is split as containerd 2.0 splits it
    [[ "$output" == *"io.containerd.cri.v1.runtime"* ]]
    [[ "$output" == *"io.containerd.cri.v1.images"* ]]
    # migrating the result again changes nothing
    dir=$(mktemp -d /tmp/berth-it.XXXXXX)
    echo "$output" >"$dir/once.toml"
    run "$BERTHD" --config "$dir/once.toml" config migrate
    [ "$status" -eq 0 ]
    [ "$output" = "$(cat "$dir/once.toml")" ]
    rm -rf "$dir"
  done
}

@test "berth deprecations list reports deprecated CRI registry properties of a v2 config" {
  cat >"$BATS_TEST_TMPDIR/v2.toml" <<'TOML'
version = 2
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = ""
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
  endpoint = ["https://mirror.example"]
[plugins."io.containerd.grpc.v1.cri".registry.configs."mirror.example".tls]
  insecure_skip_verify = true
TOML
  berthd_start --config "$BATS_TEST_TMPDIR/v2.toml"
  run berth deprecations list
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "ID"*"LAST OCCURRENCE"*"MESSAGE"* ]]
  [[ "$output" == *"io.containerd.deprecation/cri-registry-mirrors"* ]]
  [[ "$output" == *"io.containerd.deprecation/cri-registry-configs"* ]]
  run berth deprecations list --format json
  [ "$status" -eq 0 ]
  echo "$output" | /usr/bin/python3 -c '
import json, sys
ws = json.load(sys.stdin)
ids = {w["id"] for w in ws}
assert "io.containerd.deprecation/cri-registry-mirrors" in ids, ids
assert all(w["message"] and w["lastOccurrence"] for w in ws)
'
  # and berth info shows them in the server info
  run berth info
  [[ "$output" == *"cri-registry-mirrors"* ]]
}

@test "a malformed config names file, line and column and berthd exits non-zero" {
  run "$BERTHD" --config "$TESTDATA/malformed.toml" --root /tmp/nope-root --state /tmp/nope-state
  [ "$status" -ne 0 ]
  [[ "$output" =~ malformed\.toml:[0-9]+:[0-9]+ ]]
}

@test "unknown keys are warned about, not fatal" {
  run "$BERTHD" --config "$TESTDATA/unknown-keys.toml" config dump
  [ "$status" -eq 0 ]
  [[ "$output" == *"Ignoring unknown key"* ]]
}

@test "an explicit config path that does not exist is an error" {
  run "$BERTHD" --config /nonexistent/berth.toml config dump
  [ "$status" -ne 0 ]
}
