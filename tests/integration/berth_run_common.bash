# Checks shared by berth_run.bats (Debian's containerd, or the daemon BERTH_RUN_DAEMON names) and
# berth_run_berthd.bats (berthd): berth run, containers create|rm and tasks as ctr's, with real
# runc containers, and nothing left behind (FIFOs, snapshots, containers, tasks). Container ids
# carry the prefix P, unique per run: Debian's Go shim keeps runc state in the host-wide
# /run/containerd/runc/<ns>/<id>, which parallel runs would otherwise share.

load berth_run_helpers

IMG=docker.io/library/busybox:latest
# the runtime of the metrics checks (Debian's Go shim under containerd's default name)
METRICS_RUNTIME="${METRICS_RUNTIME:-io.containerd.runc.v2}"

setup_file() {
  export P="br$$x"
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

# Whatever a failed check left goes, so the next test starts clean (assert_clean already judged).
teardown() {
  [ -n "${RUN_DIR:-}" ] || return 0
  local id
  for id in $(ctr tasks ls -q 2>/dev/null); do
    ctr tasks resume "$id" >/dev/null 2>&1 || true
    ctr tasks delete -f "$id" >/dev/null 2>&1 || true
  done
  for id in $(ctr containers ls -q 2>/dev/null); do
    ctr containers delete "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$FIFOS"
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

# run --rm prints the output and leaves nothing
check_run_rm() {
  run berth run --rm --fifo-dir "$FIFOS" "$IMG" "${P}hello" echo hello </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "hello" ]
  assert_clean
}

# the task's exit code is the CLI's, stderr stays stderr
check_exit_code() {
  run --separate-stderr berth run --rm --fifo-dir "$FIFOS" "$IMG" "${P}code" \
    sh -c 'echo out; echo err >&2; exit 7' </dev/null
  [ "$status" -eq 7 ]
  [ "$output" = "out" ]
  [ "$stderr" = "err" ]
  assert_clean
}

# run without --rm keeps the container and its snapshot; containers rm removes them
check_keep_and_rm() {
  run berth run --fifo-dir "$FIFOS" "$IMG" "${P}kept" true </dev/null
  [ "$status" -eq 0 ]
  [ "$(ctr containers ls -q)" = "${P}kept" ]
  [ "$(active_snapshots)" = "${P}kept" ]
  [ -z "$(ctr tasks ls -q)" ]
  berth containers rm "${P}kept"
  assert_clean
}

# stdin reaches the process and its end closes the process's stdin
check_stdin() {
  run berth run --rm --fifo-dir "$FIFOS" "$IMG" "${P}cat" sh -c 'cat; echo done' <<<"from stdin"
  [ "$status" -eq 0 ]
  [ "$output" = $'from stdin\ndone' ]
  assert_clean
}

# env, env-file, cwd, user, mounts, hostname and read-only reach the process
check_process_flags() {
  printf 'FROM_FILE=1\n' >"$RUN_DIR/env"
  mkdir -p "$RUN_DIR/share"
  echo shared >"$RUN_DIR/share/file"
  run berth run --rm --fifo-dir "$FIFOS" --env FOO=bar --env-file "$RUN_DIR/env" --cwd /tmp \
    --user nobody --hostname box --read-only \
    --mount "type=bind,src=$RUN_DIR/share,dst=/share,options=rbind:ro" "$IMG" "${P}flags" \
    sh -c 'echo $FOO $FROM_FILE; pwd; id -u; id -g; hostname; cat /share/file;
           touch /x 2>/dev/null || echo read-only' </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = $'bar 1\n/tmp\n65534\n65534\nbox\nshared\nread-only' ]
  assert_clean
}

# the stored spec is containerd 2.0's for the same flags
check_stored_spec() {
  berth containers create --env A=1 --label l=v "$IMG" "${P}spec" echo hi
  run ctr containers info --spec "${P}spec"
  [ "$status" -eq 0 ]
  [[ "$output" == *'"ociVersion": "1.2.0"'* ]]
  [[ "$output" == *'"/sys/devices/virtual/powercap"'* ]]
  [[ "$output" == *'"cgroupsPath": "/default/'"${P}spec"'"'* ]]
  [[ "$output" == *'"A=1"'* ]]
  run ctr containers info "${P}spec"
  [[ "$output" == *'"io.containerd.image.config.stop-signal": "SIGTERM"'* ]]
  [[ "$output" == *'"type_url": "containerd.runc.v1.Options"'* ]]
  [[ "$output" == *'"Image": "docker.io/library/busybox:latest"'* ]]
  # the container starts with ctr too
  run ctr tasks start "${P}spec" </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "hi" ]

  berth containers rm "${P}spec"
  assert_clean
}

# --runc-binary and --runc-root go into the runtime options
check_runc_options() {
  berth containers create --runc-binary /usr/sbin/runc --runc-root "$RUN_DIR/runc" "$IMG" "${P}runcopts"
  run ctr containers info "${P}runcopts"
  [[ "$output" == *'"type_url": "containerd.runc.v1.Options"'* ]]
  [[ "$output" == *'"value": "'* ]]
  run berth tasks start --fifo-dir "$FIFOS" "${P}runcopts" true </dev/null
  [ "$status" -eq 0 ]
  [ -d "$RUN_DIR/runc/default" ]
  berth containers rm "${P}runcopts"
  assert_clean
}

# a bad flag fails cleanly without leftovers
check_bad_flags() {
  run berth run --rm --fifo-dir "$FIFOS" --cap-add SYS_ADMIN "$IMG" "${P}bad" true
  [ "$status" -eq 1 ]
  [[ "$output" == *"capabilities must be specified with 'CAP_' prefix"* ]]
  run berth run --rm --fifo-dir "$FIFOS" --user ghost "$IMG" "${P}bad" true
  [ "$status" -eq 1 ]
  [[ "$output" == *"no users found"* ]]
  run berth run --rm --fifo-dir "$FIFOS" --mount "type=bind,bogus=1" "$IMG" "${P}bad" true
  [ "$status" -eq 1 ]
  run berth run -d --rm "$IMG" "${P}bad" true
  [ "$status" -eq 1 ]
  [[ "$output" == *"flags --detach and --rm cannot be specified together"* ]]
  run berth run --fifo-dir "$FIFOS" docker.io/library/none:latest "${P}bad" true
  [ "$status" -eq 1 ]
  assert_clean
}

# run -d, then tasks ls, ps, exec, pause, resume, kill and rm
check_detached_lifecycle() {
  run berth run -d --fifo-dir "$FIFOS" "$IMG" "${P}bg" sleep 1000 </dev/null
  [ "$status" -eq 0 ]
  run berth tasks ls
  [ "${lines[0]}" = "TASK    PID      STATUS    " ] || [[ "${lines[0]}" == TASK*PID*STATUS* ]]
  [[ "${lines[1]}" == "${P}bg"*RUNNING ]]
  [ "$(berth t ls -q)" = "${P}bg" ]
  run berth task ps "${P}bg"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == PID*INFO ]]
  [ "${#lines[@]}" -eq 2 ]

  run berth tasks exec --fifo-dir "$FIFOS" --exec-id e1 --cwd /etc "${P}bg" sh -c 'pwd; exit 3' \
    </dev/null
  [ "$status" -eq 3 ]
  [ "$output" = "/etc" ]
  run berth tasks exec --fifo-dir "$FIFOS" --exec-id e2 --user nobody "${P}bg" id -u </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "65534" ]

  berth tasks pause "${P}bg"
  [[ "$(berth tasks ls)" == *PAUSED* ]]
  berth tasks resume "${P}bg"
  [[ "$(berth tasks ls)" == *RUNNING* ]]

  # a running task is not deleted without -f
  run berth tasks rm "${P}bg"
  [ "$status" -eq 1 ]
  [[ "$output" == *"task must be stopped before deletion: running"* ]]
  berth tasks kill -s KILL "${P}bg"
  # wait for the exit through the API (Wait), as ctr's tasks delete would not
  ctr tasks delete "${P}bg" 2>/dev/null || { sleep 0.5; ctr tasks delete "${P}bg" 2>/dev/null; } || true
  [ -z "$(berth tasks ls -q)" ]
  berth containers rm "${P}bg"
  # the detached run's FIFOs: removed by a berth tasks rm, or left as ctr leaves them
  rm -rf "$FIFOS"
  assert_clean
}

# tasks rm -f kills a running task and removes its FIFOs
check_tasks_rm_force() {
  berth run -d --fifo-dir "$FIFOS" "$IMG" "${P}force" sleep 1000 </dev/null
  [ -n "$(ls -A "$FIFOS")" ]
  run berth tasks delete -f "${P}force"
  [ "$status" -eq 0 ]
  [[ "$output" == *"exit with non-zero exit code 137"* ]]
  berth c rm "${P}force"
  assert_clean
}

# tasks kill -a and --exec-id, exec -d and delete --exec-id
check_kill_and_exec() {
  berth run -d --fifo-dir "$FIFOS" "$IMG" "${P}ex" sleep 1000 </dev/null
  run berth tasks kill -a --exec-id x "${P}ex"
  [ "$status" -eq 1 ]
  [[ "$output" == *"specify an exec-id or all; not both"* ]]
  berth tasks exec -d --fifo-dir "$FIFOS" --exec-id bgexec "${P}ex" sleep 1000 </dev/null
  [ "$(berth tasks ps "${P}ex" | wc -l)" -eq 3 ]
  berth tasks kill -s KILL --exec-id bgexec "${P}ex"
  run berth tasks delete --exec-id bgexec "${P}ex"
  [ "$status" -eq 137 ]
  [ "$(berth tasks ps "${P}ex" | wc -l)" -eq 2 ]
  berth tasks delete -f "${P}ex" 2>/dev/null
  berth containers delete "${P}ex"
  assert_clean
}

# run -t gives the process a terminal (through script)
check_tty() {
  command -v script >/dev/null || skip "script (bsdutils) is missing"
  run script -qec "$BERTH run -t --rm --fifo-dir $FIFOS $IMG ${P}tty sh -c 'tty; exit 4'" /dev/null \
    </dev/null
  [ "$status" -eq 4 ]
  [[ "$output" == *"/dev/pts/"* ]]
  assert_clean
}

# signals to berth run are forwarded to the task
check_signals() {
  "$BERTH" run --rm --fifo-dir "$FIFOS" "$IMG" "${P}sig" \
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

# --rootfs runs a directory that no snapshotter manages
check_rootfs() {
  mkdir -p "$RUN_DIR/rootfs"
  tar -xf "$RUN_DIR/images/busybox-oci.tar" -C "$RUN_DIR" blobs
  local layer
  for layer in "$RUN_DIR"/blobs/sha256/*; do
    tar -xzf "$layer" -C "$RUN_DIR/rootfs" 2>/dev/null || true
  done
  run berth run --rm --fifo-dir "$FIFOS" --rootfs "$RUN_DIR/rootfs" "${P}rootfs" /bin/busybox echo rootfs \
    </dev/null
  [ "$status" -eq 0 ]
  [ "$output" = "rootfs" ]
  assert_clean
}

# Waits (bounded) until the task is STOPPED.
wait_stopped() { # id
  local i
  for i in $(seq 1 100); do
    berth tasks ls | awk -v id="$1" '$1 == id && $3 == "STOPPED" {f=1} END {exit !f}' && return 0
    sleep 0.05
  done
  berth tasks ls >&2
  return 1
}

# containers rm refuses a running or paused task with ctr's words, and deletes a stopped one
# (and its FIFOs) before the container
check_containers_rm_task() {
  local id="${P}live" theirs
  berth run -d --fifo-dir "$FIFOS" "$IMG" "$id" sleep 1000 </dev/null
  run berth containers rm "$id"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "berth: cannot delete a non stopped container: {running 0 "*" +0000 UTC}" ]]
  theirs=$(ctr containers rm "$id" 2>&1 | tail -n 1)
  [ "${lines[-1]}" = "berth:${theirs#ctr:}" ]
  berth tasks pause "$id"
  run berth containers rm "$id"
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "berth: cannot delete a non stopped container: {paused 0 "* ]]
  [ "$(ctr containers ls -q)" = "$id" ]
  berth tasks resume "$id"
  berth tasks kill -s KILL "$id"
  wait_stopped "$id"
  [ -n "$(ls -A "$FIFOS")" ]
  berth containers rm "$id"
  assert_clean
}

# tasks metrics: ctr's rows for the same (paused, so unmoving) task, and ctr's JSON fields
check_metrics() { # runtime
  local id="${P}met"
  berth run -d --runtime "$1" --fifo-dir "$FIFOS" "$IMG" "$id" sleep 1000 </dev/null
  berth tasks pause "$id"
  run berth tasks metrics "$id"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "ID "*"TIMESTAMP "* ]]
  [[ "${lines[1]}" == "$id "*"seconds:"* ]]
  [[ "${lines[2]}" == "METRIC "*"VALUE "* ]]
  [ "$(sed 1,3d <<<"$output" | awk '{ print $1 }')" = \
    "$(ctr tasks metrics "$id" | sed 1,3d | awk '{ print $1 }')" ]
  berth tasks metric --format json "$id" >"$RUN_DIR/berth-metrics.json"
  ctr tasks metrics --format json "$id" >"$RUN_DIR/ctr-metrics.json"
  local fields='[paths(scalars) | map(tostring) | join(".")]'
  [ "$(jq -c "$fields" "$RUN_DIR/berth-metrics.json")" = \
    "$(jq -c "$fields" "$RUN_DIR/ctr-metrics.json")" ]
  # a frozen task's counters hold still
  [ "$(jq -c '[.cpu, .pids]' "$RUN_DIR/berth-metrics.json")" = \
    "$(jq -c '[.cpu, .pids]' "$RUN_DIR/ctr-metrics.json")" ]
  [ "$(jq '.pids.current' "$RUN_DIR/berth-metrics.json")" -ge 1 ]
  berth tasks resume "$id"
  berth tasks rm -f "$id" 2>/dev/null
  berth containers rm "$id"
  assert_clean
}
