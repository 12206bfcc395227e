#!/usr/bin/env bats
# berth run, containers create and tasks, as ctr's: real runc containers on the daemon chosen by
# BERTH_RUN_DAEMON (Debian's containerd by default), and nothing left behind (FIFOs, snapshots,
# containers, tasks).

load berth_run_helpers
bats_require_minimum_version 1.5.0

IMG=docker.io/library/busybox:latest

setup_file() {
  [ "$(id -u)" -eq 0 ] || return 0
  command -v runc >/dev/null || return 0
  run_daemon_start
  local rc=0
  bash "$BERTH_SRC/tests/images/build.sh" "$RUN_DIR/images" >"$RUN_DIR/build-images.log" 2>&1 ||
    rc=$?
  if [ "$rc" -eq 77 ]; then
    export SKIP_ALL="busybox-static is missing: tests/images/build.sh cannot build test images"
    return 0
  fi
  [ "$rc" -eq 0 ]
  "$BERTH" images import "$RUN_DIR/images/busybox-oci.tar" >/dev/null
}

teardown_file() {
  run_daemon_stop
}

setup() {
  [ "$(id -u)" -eq 0 ] || skip "containers need root"
  command -v runc >/dev/null || skip "runc is missing"
  [ -z "${SKIP_ALL:-}" ] || skip "$SKIP_ALL"
  FIFOS="$RUN_DIR/fifo-$BATS_TEST_NUMBER"
}

# Nothing of the test's containers is left: no FIFOs, tasks, containers, container snapshots.
assert_clean() {
  [ -z "$(ls -A "$FIFOS" 2>/dev/null)" ] || {
    ls -laR "$FIFOS" >&2
    return 1
  }
  [ -z "$(ctr tasks ls -q)" ]
  [ -z "$(ctr containers ls -q)" ] || { ctr containers ls >&2; return 1; }
  [ -z "$(active_snapshots)" ]
}

@test "run --rm prints the output and leaves nothing" {
  run berth run --rm --fifo-dir "$FIFOS" "$IMG" hello echo hello </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "hello" ]
  assert_clean
}

@test "the task's exit code is the CLI's, stderr stays stderr" {
  run --separate-stderr berth run --rm --fifo-dir "$FIFOS" "$IMG" code \
    sh -c 'echo out; echo err >&2; exit 7' </dev/null
  [ "$status" -eq 7 ]
  [ "$output" = "out" ]
  [ "$stderr" = "err" ]
  assert_clean
}

@test "run without --rm keeps the container and its snapshot; containers rm removes them" {
  run berth run --fifo-dir "$FIFOS" "$IMG" kept true </dev/null
  [ "$status" -eq 0 ]
  [ "$(ctr containers ls -q)" = "kept" ]
  [ "$(active_snapshots)" = "kept" ]
  [ -z "$(ctr tasks ls -q)" ]
  berth containers rm kept
  assert_clean
}

@test "stdin reaches the process and its end closes the process's stdin" {
  run berth run --rm --fifo-dir "$FIFOS" "$IMG" cat sh -c 'cat; echo done' <<<"from stdin"
  [ "$status" -eq 0 ]
  [ "$output" = $'from stdin\ndone' ]
  assert_clean
}

@test "env, env-file, cwd, user, mounts, hostname and read-only reach the process" {
  printf 'FROM_FILE=1\n' >"$RUN_DIR/env"
  mkdir -p "$RUN_DIR/share"
  echo shared >"$RUN_DIR/share/file"
  run berth run --rm --fifo-dir "$FIFOS" --env FOO=bar --env-file "$RUN_DIR/env" --cwd /tmp \
    --user nobody --hostname box --read-only \
    --mount "type=bind,src=$RUN_DIR/share,dst=/share,options=rbind:ro" "$IMG" flags \
    sh -c 'echo $FOO $FROM_FILE; pwd; id -u; id -g; hostname; cat /share/file;
           touch /x 2>/dev/null || echo read-only' </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = $'bar 1\n/tmp\n65534\n65534\nbox\nshared\nread-only' ]
  assert_clean
}

@test "the stored spec is containerd 2.0's for the same flags" {
  berth containers create --env A=1 --label l=v "$IMG" spec echo hi
  run ctr containers info --spec spec
  [ "$status" -eq 0 ]
  [[ "$output" == *'"ociVersion": "1.2.0"'* ]]
  [[ "$output" == *'"/sys/devices/virtual/powercap"'* ]]
  [[ "$output" == *'"cgroupsPath": "/default/spec"'* ]]
  [[ "$output" == *'"A=1"'* ]]
  run ctr containers info spec
  [[ "$output" == *'"io.containerd.image.config.stop-signal": "SIGTERM"'* ]]
  [[ "$output" == *'"type_url": "containerd.runc.v1.Options"'* ]]
  [[ "$output" == *'"Image": "docker.io/library/busybox:latest"'* ]]
  # the container starts with ctr too
  run ctr tasks start spec </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "hi" ]

  berth containers rm spec
  assert_clean
}

@test "--runc-binary and --runc-root go into the runtime options" {
  berth containers create --runc-binary /usr/sbin/runc --runc-root "$RUN_DIR/runc" "$IMG" runcopts
  run ctr containers info runcopts
  [[ "$output" == *'"type_url": "containerd.runc.v1.Options"'* ]]
  [[ "$output" == *'"value": "'* ]]
  run berth tasks start --fifo-dir "$FIFOS" runcopts true </dev/null
  [ "$status" -eq 0 ]
  [ -d "$RUN_DIR/runc/default" ]
  berth containers rm runcopts
  assert_clean
}

@test "a bad flag fails cleanly without leftovers" {
  run berth run --rm --fifo-dir "$FIFOS" --cap-add SYS_ADMIN "$IMG" bad true
  [ "$status" -eq 1 ]
  [[ "$output" == *"capabilities must be specified with 'CAP_' prefix"* ]]
  run berth run --rm --fifo-dir "$FIFOS" --user ghost "$IMG" bad true
  [ "$status" -eq 1 ]
  [[ "$output" == *"no users found"* ]]
  run berth run --rm --fifo-dir "$FIFOS" --mount "type=bind,bogus=1" "$IMG" bad true
  [ "$status" -eq 1 ]
  run berth run -d --rm "$IMG" bad true
  [ "$status" -eq 1 ]
  [[ "$output" == *"flags --detach and --rm cannot be specified together"* ]]
  run berth run --fifo-dir "$FIFOS" docker.io/library/none:latest bad true
  [ "$status" -eq 1 ]
  assert_clean
}

@test "run -d, then tasks ls, ps, exec, pause, resume, kill and rm" {
  run berth run -d --fifo-dir "$FIFOS" "$IMG" bg sleep 1000 </dev/null
  [ "$status" -eq 0 ]
  run berth tasks ls
  [ "${lines[0]}" = "TASK    PID      STATUS    " ] || [[ "${lines[0]}" == TASK*PID*STATUS* ]]
  [[ "${lines[1]}" == bg*RUNNING ]]
  [ "$(berth t ls -q)" = "bg" ]
  run berth task ps bg
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == PID*INFO ]]
  [ "${#lines[@]}" -eq 2 ]

  run berth tasks exec --fifo-dir "$FIFOS" --exec-id e1 --cwd /etc bg sh -c 'pwd; exit 3' \
    </dev/null
  [ "$status" -eq 3 ]
  [ "$output" = "/etc" ]
  run berth tasks exec --fifo-dir "$FIFOS" --exec-id e2 --user nobody bg id -u </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "65534" ]

  berth tasks pause bg
  [[ "$(berth tasks ls)" == *PAUSED* ]]
  berth tasks resume bg
  [[ "$(berth tasks ls)" == *RUNNING* ]]

  # a running task is not deleted without -f
  run berth tasks rm bg
  [ "$status" -eq 1 ]
  [[ "$output" == *"task must be stopped before deletion: running"* ]]
  berth tasks kill -s KILL bg
  # wait for the exit through the API (Wait), as ctr's tasks delete would not
  ctr tasks delete bg 2>/dev/null || { sleep 0.5; ctr tasks delete bg 2>/dev/null; } || true
  [ -z "$(berth tasks ls -q)" ]
  berth containers rm bg
  # the detached run's FIFOs: removed by a berth tasks rm, or left as ctr leaves them
  rm -rf "$FIFOS"
  assert_clean
}

@test "tasks rm -f kills a running task and removes its FIFOs" {
  berth run -d --fifo-dir "$FIFOS" "$IMG" force sleep 1000 </dev/null
  [ -n "$(ls -A "$FIFOS")" ]
  run berth tasks delete -f force
  [ "$status" -eq 0 ]
  [[ "$output" == *"exit with non-zero exit code 137"* ]]
  berth c rm force
  assert_clean
}

@test "tasks kill -a and --exec-id, exec -d and delete --exec-id" {
  berth run -d --fifo-dir "$FIFOS" "$IMG" ex sleep 1000 </dev/null
  run berth tasks kill -a --exec-id x ex
  [ "$status" -eq 1 ]
  [[ "$output" == *"specify an exec-id or all; not both"* ]]
  berth tasks exec -d --fifo-dir "$FIFOS" --exec-id bgexec ex sleep 1000 </dev/null
  [ "$(berth tasks ps ex | wc -l)" -eq 3 ]
  berth tasks kill -s KILL --exec-id bgexec ex
  run berth tasks delete --exec-id bgexec ex
  [ "$status" -eq 137 ]
  [ "$(berth tasks ps ex | wc -l)" -eq 2 ]
  berth tasks delete -f ex 2>/dev/null
  berth containers delete ex
  assert_clean
}

@test "run -t gives the process a terminal (through script)" {
  command -v script >/dev/null || skip "script (bsdutils) is missing"
  run script -qec "$BERTH run -t --rm --fifo-dir $FIFOS $IMG tty sh -c 'tty; exit 4'" /dev/null \
    </dev/null
  [ "$status" -eq 4 ]
  [[ "$output" == *"/dev/pts/"* ]]
  assert_clean
}

@test "signals to berth run are forwarded to the task" {
  "$BERTH" run --rm --fifo-dir "$FIFOS" "$IMG" sig \
    sh -c 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.1; done' \
    >"$RUN_DIR/sig.out" </dev/null &
  local pid=$! i
  for i in $(seq 1 100); do
    grep -q ready "$RUN_DIR/sig.out" 2>/dev/null && break
    sleep 0.1
  done
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  cat "$RUN_DIR/sig.out" >&2; echo "rc=$rc" >&2
  [ "$rc" -eq 9 ]
  grep -q got-term "$RUN_DIR/sig.out"
  assert_clean
}

@test "--rootfs runs a directory that no snapshotter manages" {
  mkdir -p "$RUN_DIR/rootfs"
  tar -xf "$RUN_DIR/images/busybox-oci.tar" -C "$RUN_DIR" blobs
  local layer
  for layer in "$RUN_DIR"/blobs/sha256/*; do
    tar -xzf "$layer" -C "$RUN_DIR/rootfs" 2>/dev/null || true
  done
  run berth run --rm --fifo-dir "$FIFOS" --rootfs "$RUN_DIR/rootfs" rootfs /bin/busybox echo rootfs \
    </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "rootfs" ]
  assert_clean
}
