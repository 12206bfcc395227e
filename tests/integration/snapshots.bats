#!/usr/bin/env bats
# Snapshots through Debian's real ctr: prepare, view, commit, ls, tree, info, usage, mounts, rm,
# label; mounting what `ctr snapshots mounts` prints; nothing left behind after rm.

load helpers

# Views carry no gc.root label (ctr adds none), so a collection could take one mid-test: GC waits.
setup_file() {
  berthd_start
  printf '[plugins."io.containerd.gc.v1.scheduler"]\n  schedule_delay = "10m"\n' \
    >>"$BERTH_DIR/config.toml"
  berthd_restart
}

teardown_file() {
  berthd_stop
}

SNAPDIR() {
  echo "$BERTH_DIR/root/io.containerd.snapshotter.v1.overlayfs/snapshots"
}

@test "ctr snapshots prepare, commit, ls, tree, info and rm" {
  ctr snapshots prepare base-active
  run ctr snapshots ls
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "KEY"*"PARENT"*"KIND"* ]]
  [[ "$output" == *"base-active"*"Active"* ]]
  ctr snapshots commit base base-active
  ctr snapshots prepare child-active base
  run ctr snapshots tree
  [[ "$output" == *"base"*"\\_ child-active"* ]]
  run ctr snapshots info child-active
  [ "$status" -eq 0 ]
  [[ "$output" == *'"Kind": "Active"'* ]]
  [[ "$output" == *'"Parent": "base"'* ]]
  [[ "$output" == *'containerd.io/gc.root'* ]]
  run ctr snapshots rm base
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot remove snapshot with child: failed precondition"* ]]
  ctr snapshots rm child-active
  ctr snapshots rm base
  run ctr snapshots ls
  [ "${#lines[@]}" -eq 1 ]
  [ -z "$(ls -A "$(SNAPDIR)")" ]
}

@test "ctr snapshots errors read as containerd's" {
  run ctr snapshots prepare orphan missing-parent
  [ "$status" -ne 0 ]
  [[ "$output" == *"parent snapshot missing-parent does not exist: not found"* ]]
  ctr snapshots prepare dup
  run ctr snapshots prepare dup
  [ "$status" -ne 0 ]
  [[ "$output" == *"already exists"* ]]
  run ctr snapshots --snapshotter nope ls
  [ "$status" -ne 0 ]
  [[ "$output" == *"snapshotter not loaded: nope: invalid argument"* ]]
  run ctr snapshots info nothing-here
  [ "$status" -ne 0 ]
  [[ "$output" == *"snapshot nothing-here does not exist: not found"* ]]
  ctr snapshots rm dup
}

@test "a file written in an active snapshot is visible in a view of its commit" {
  m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  ctr snapshots prepare layer1-active
  eval "$(ctr snapshots mounts "$m" layer1-active)"
  echo one >"$m/one"
  umount "$m"
  ctr snapshots commit layer1 layer1-active
  ctr snapshots prepare layer2-active layer1
  run ctr snapshots mounts "$m" layer2-active
  [[ "$output" == "mount -t overlay overlay $m -o "*"upperdir="*"lowerdir="* ]]
  eval "$output"
  [ "$(cat "$m/one")" = one ]
  echo two >"$m/two"
  umount "$m"
  ctr snapshots commit layer2 layer2-active
  ctr snapshots view layer2-view layer2
  run ctr snapshots mounts "$m" layer2-view
  [[ "$output" == *"lowerdir="*"/fs:"*"/fs"* ]]
  eval "$output"
  [ "$(cat "$m/one")" = one ]
  [ "$(cat "$m/two")" = two ]
  umount "$m"
  run ctr snapshots usage layer2
  [[ "$output" == *"layer2"* ]]
  ctr snapshots rm layer2-view
  ctr snapshots rm layer2
  ctr snapshots rm layer1
  ! grep -q "$BERTH_DIR" /proc/self/mounts
  [ -z "$(ls -A "$(SNAPDIR)")" ]
}

@test "ctr snapshots label and ls filters" {
  ctr snapshots prepare lab
  run ctr snapshots label lab team=a
  [[ "$output" == *"team=a"* ]]
  run ctr snapshots info lab
  [[ "$output" == *'"team": "a"'* ]]
  ctr snapshots label lab team=
  run ctr snapshots info lab
  [[ "$output" != *'"team"'* ]]
  ctr snapshots rm lab
}

@test "the native snapshotter copies its parent and bind mounts" {
  m="$BERTH_DIR/mnt"
  mkdir -p "$m"
  ctr snapshots --snapshotter native prepare n1
  run ctr snapshots --snapshotter native mounts "$m" n1
  [[ "$output" == "mount -t bind "*"/io.containerd.snapshotter.v1.native/snapshots/"*" $m -o rw,rbind" ]]
  eval "$output"
  echo hi >"$m/hi"
  umount "$m"
  ctr snapshots --snapshotter native commit n1c n1
  ctr snapshots --snapshotter native view n2 n1c
  eval "$(ctr snapshots --snapshotter native mounts "$m" n2)"
  [ "$(cat "$m/hi")" = hi ]
  umount "$m"
  ctr snapshots --snapshotter native rm n2
  ctr snapshots --snapshotter native rm n1c
  [ -z "$(ls -A "$BERTH_DIR/root/io.containerd.snapshotter.v1.native/snapshots")" ]
}

@test "snapshots survive a restart" {
  ctr snapshots prepare keep
  berthd_restart
  run ctr snapshots info keep
  [ "$status" -eq 0 ]
  ctr snapshots rm keep
}

@test "berth snapshots answers as ctr does" {
  berth snapshots prepare cli-a
  run berth snapshots ls
  [[ "${lines[0]}" == "KEY"*"PARENT"*"KIND"* ]]
  [[ "$output" == *"cli-a"*"Active"* ]]
  berth snapshots commit cli-c cli-a
  run berth snapshots view --mounts cli-v cli-c
  [[ "$output" == "mount -t bind "*" -o ro,rbind" ]]
  run berth snapshots tree
  [[ "$output" == *" cli-c"*"\\_ cli-v"* ]]
  run berth snapshots label cli-c team=b
  [[ "$output" == *"team=b"* ]]
  diff <(berth snapshots info cli-c) <(ctr snapshots info cli-c)
  diff <(berth snapshots usage) <(ctr snapshots usage)
  diff <(berth snapshots ls) <(ctr snapshots ls)
  diff <(berth snapshots mounts /x cli-v) <(ctr snapshots mounts /x cli-v)
  run berth snapshots --snapshotter nope ls
  [ "$status" -ne 0 ]
  [[ "$output" == *"snapshotter not loaded: nope"* ]]
  berth snapshots rm cli-v cli-c
  [ -z "$(ls -A "$(SNAPDIR)")" ]
}
