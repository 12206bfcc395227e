# Task tests shared by tasks.bats (Berth's shim) and tasks_goshim.bats (Debian's Go shim): Debian's
# real ctr drives berthd; RUNTIME names the runtime each file runs containers with.

IMAGE=docker.io/library/busybox:latest

tasks_setup_file() {
  berthd_start
  IMAGES="$BERTH_DIR/images"
  # ids are unique per run: Debian's Go shim keeps runc state in /run/containerd/runc/<ns>/<id>
  PFX="t$$x"
  export IMAGES PFX
  local rc=0
  bash "$BERTH_SRC/tests/images/build.sh" "$IMAGES" >"$BERTH_DIR/build-images.log" 2>&1 || rc=$?
  if [ "$rc" -eq 77 ]; then
    export SKIP_ALL="busybox-static is missing: tests/images/build.sh cannot build test images"
    return 0
  fi
  [ "$rc" -eq 0 ] || return 1
  ctr images import "$IMAGES/busybox-oci.tar" >/dev/null
}

tasks_teardown_file() {
  if [ -n "${BERTH_DIR:-}" ] && [ -S "$BERTH_SOCK" ]; then
    local t
    for t in $(ctr task ls -q 2>/dev/null); do
      ctr task kill -s KILL "$t" >/dev/null 2>&1 || true
    done
    sleep 0.2
    for t in $(ctr task ls -q 2>/dev/null); do ctr task rm -f "$t" >/dev/null 2>&1 || true; done
    for t in $(ctr c ls -q 2>/dev/null); do ctr c rm "$t" >/dev/null 2>&1 || true; done
  fi
  berthd_stop
}

tasks_setup() {
  [ -z "${SKIP_ALL:-}" ] || skip "$SKIP_ALL"
  [ "$(id -u)" -eq 0 ] || skip "running containers needs root"
  command -v runc >/dev/null || skip "runc is not installed"
}

crun() { # ctr run with the file's runtime
  ctr run --runtime "$RUNTIME" "$@"
}

# Waits (bounded) until `ctr task ls` shows the task in the given state.
wait_status() { # id status
  local i
  for i in $(seq 1 100); do
    ctr task ls | awk -v id="$1" -v st="$2" '$1 == id && $3 == st {f=1} END {exit !f}' && return 0
    sleep 0.05
  done
  ctr task ls >&2
  return 1
}

# Nothing of this daemon's tasks may remain: shims, bundles, mounts, FIFOs.
assert_no_task_leftovers() {
  local left
  # shims only: berthd's own command line has "--address $BERTH_SOCK" too. A shim exits just
  # after its task's delete returned: give it a bounded moment.
  local i
  for i in $(seq 1 100); do
    left=$(pgrep -f -- "-id [^ ]+ -address $BERTH_SOCK" || true)
    [ -z "$left" ] && break
    sleep 0.05
  done
  [ -z "$left" ] || { echo "shims left: $left" >&2; ps -fp $left >&2; return 1; }
  left=$(ls -A "$BERTH_DIR/state/io.containerd.runtime.v2.task/default" 2>/dev/null || true)
  [ -z "$left" ] || { echo "bundles left: $left" >&2; return 1; }
  left=$(grep -c " $BERTH_DIR" /proc/self/mountinfo || true)
  [ "$left" -eq 0 ] || { grep " $BERTH_DIR" /proc/self/mountinfo >&2; return 1; }
  # Berth's shim sockets live under the state dir (Debian's Go shim uses /run/containerd/s)
  left=$(ls -A "$BERTH_DIR/state/s" 2>/dev/null || true)
  [ -z "$left" ] || { echo "shim sockets left: $left" >&2; return 1; }
}

check_run_rm_echo() {
  run crun --rm "$IMAGE" "${PFX}echo" echo hello
  [ "$status" -eq 0 ]
  [ "$output" = hello ]
  run ctr c ls -q
  [ -z "$output" ]
}

check_exit_code() {
  run crun --rm "$IMAGE" "${PFX}exit" sh -c 'exit 7'
  [ "$status" -eq 7 ]
  # stdin reaches the container and stdout/stderr come back apart. ctr sends CloseIO at its stdin's
  # EOF only if the task exists by then (tasks.NewTask sets the closer after Create): end stdin
  # once the task runs, or cat never sees EOF, whatever the shim.
  run bash -c "{ for i in \$(seq 1 100); do $CTR --address $BERTH_SOCK task ls | grep -q '^${PFX}cat .*RUNNING' && break; sleep 0.05; done; echo piped; } | $CTR --address $BERTH_SOCK run --runtime $RUNTIME --rm $IMAGE ${PFX}cat cat 2>/dev/null"
  [ "$output" = piped ]
}

check_detached_lifecycle() {
  local id="${PFX}d"
  crun -d "$IMAGE" "$id" sleep 1000
  wait_status "$id" RUNNING
  run ctr task exec --exec-id e1 "$id" sh -c 'echo from-exec; exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = from-exec ]
  run ctr task ps "$id"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge 2 ]
  local pid
  pid=$(ctr task ls | awk -v id="$id" '$1 == id {print $2}')
  [[ "${lines[1]}" == "$pid"* ]]
  ctr task pause "$id"
  wait_status "$id" PAUSED
  ctr task resume "$id"
  wait_status "$id" RUNNING
  run ctr task metrics "$id"
  [ "$status" -eq 0 ]
  [[ "$output" == *"$id"* ]]
  # an unknown exec id is NotFound
  run ctr task kill --exec-id nosuch "$id"
  [ "$status" -ne 0 ]
  [[ "$output" == *"not found"* ]]
  # deleting a running task is refused
  run ctr task rm "$id"
  [ "$status" -ne 0 ]
  ctr task kill -s KILL "$id"
  wait_status "$id" STOPPED
  run ctr task rm "$id"
  [ "$status" -eq 0 ]
  [[ "$output" == *"exit code 137"* ]] || [[ "$output" == "" ]]
  ctr c rm "$id"
  assert_no_task_leftovers
}

check_tty() {
  command -v script >/dev/null || skip "script (util-linux) is missing"
  # the test image links only a few applets: tty and stty through busybox itself
  run script -qec "$CTR --address $BERTH_SOCK run --runtime $RUNTIME -t --rm $IMAGE ${PFX}tty busybox tty" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == */dev/pts/* ]]
  run script -qec "$CTR --address $BERTH_SOCK run --runtime $RUNTIME -t --rm $IMAGE ${PFX}tty2 sh -c 'busybox stty size; exit 4'" /dev/null
  [ "$status" -eq 4 ]
}

check_events_order() {
  local ev="$BERTH_DIR/events.txt"
  "$CTR" --address "$BERTH_SOCK" events >"$ev" 2>&1 3>&- &
  local epid=$!
  sleep 0.3
  crun --rm "$IMAGE" "${PFX}ev" true
  crun -d "$IMAGE" "${PFX}ev2" sleep 1000
  wait_status "${PFX}ev2" RUNNING
  ctr task exec --exec-id x1 "${PFX}ev2" true
  ctr task kill -s KILL "${PFX}ev2"
  wait_status "${PFX}ev2" STOPPED
  ctr task rm "${PFX}ev2" >/dev/null 2>&1
  ctr c rm "${PFX}ev2"
  sleep 0.3
  kill "$epid"
  local topics
  topics=$(grep -o ' /tasks/[a-z-]*' "$ev" | tr -d ' ' | tr '\n' ' ')
  [ "$topics" = "/tasks/create /tasks/start /tasks/exit /tasks/delete /tasks/create /tasks/start /tasks/exec-added /tasks/exec-started /tasks/exit /tasks/exit /tasks/delete " ] || {
    echo "topics: $topics" >&2
    cat "$ev" >&2
    return 1
  }
  grep -q '/containers/create' "$ev"
  grep -q '/containers/delete' "$ev"
}

check_restart_survival() {
  local i n=10
  for i in $(seq 1 $n); do crun -d "$IMAGE" "${PFX}r$i" sleep 1000; done
  for i in $(seq 1 $n); do wait_status "${PFX}r$i" RUNNING; done
  kill -KILL "$(berthd_pid)"
  rm -f "$BERTH_DIR/berthd.pid"
  sleep 0.2
  berthd_launch
  run ctr task ls
  [ "$(echo "$output" | grep -c ' RUNNING')" -eq $n ]
  run ctr task exec --exec-id after "${PFX}r3" echo alive
  [ "$output" = alive ]
  for i in $(seq 1 $n); do ctr task kill -s KILL "${PFX}r$i"; done
  for i in $(seq 1 $n); do wait_status "${PFX}r$i" STOPPED; done
  run ctr task rm "${PFX}r1"
  [[ "$output" == *"137"* ]] || [ "$status" -eq 0 ]
  for i in $(seq 2 $n); do ctr task rm "${PFX}r$i" >/dev/null 2>&1; done
  for i in $(seq 1 $n); do ctr c rm "${PFX}r$i"; done
  assert_no_task_leftovers
}

check_dead_shim() {
  local id="${PFX}dead"
  local ev="$BERTH_DIR/dead-events.txt"
  crun -d "$IMAGE" "$id" sleep 1000
  wait_status "$id" RUNNING
  "$CTR" --address "$BERTH_SOCK" events >"$ev" 2>&1 3>&- &
  local epid=$!
  sleep 0.3
  local shim
  shim=$(pgrep -f -- "-id $id -address $BERTH_SOCK|-address $BERTH_SOCK.* -id $id" | head -1)
  [ -n "$shim" ]
  kill -KILL "$shim"
  local i
  for i in $(seq 1 100); do
    ctr task ls -q | grep -qx "$id" || break
    sleep 0.05
  done
  sleep 0.2
  kill "$epid"
  run ctr task ls -q
  [[ "$output" != *"$id"* ]]
  grep -q "/tasks/exit.*\"$id\"" "$ev"
  grep -q "/tasks/delete.*\"$id\"" "$ev"
  ctr c rm "$id"
  assert_no_task_leftovers
}

check_errors() {
  # a task for a missing container, a missing task, a second task for one container
  run ctr task start nosuch
  [ "$status" -ne 0 ]
  [[ "$output" == *"not found"* ]]
  ctr c create --runtime "$RUNTIME" "$IMAGE" "${PFX}err" true 2>/dev/null ||
    ctr c create "$IMAGE" "${PFX}err" true
  run ctr task rm "${PFX}err"
  [ "$status" -ne 0 ]
  [[ "$output" == *"not found"* ]]
  ctr c rm "${PFX}err"
  # a runtime that does not exist fails cleanly
  run ctr run --runtime io.containerd.nosuch.v9 --rm "$IMAGE" "${PFX}bad" true
  [ "$status" -ne 0 ]
  [[ "$output" == *"not installed"* ]] || [[ "$output" == *"nosuch"* ]]
  assert_no_task_leftovers
}

check_cycles() { # count
  local i
  for i in $(seq 1 "$1"); do
    crun --rm "$IMAGE" "${PFX}cy" true || return 1
  done
  assert_no_task_leftovers
  run ctr c ls -q
  [ -z "$output" ]
  # the daemon's own fds did not grow with the cycles (a few for sockets and pipes)
  local fds
  fds=$(ls /proc/"$(berthd_pid)"/fd | wc -l)
  [ "$fds" -lt 64 ] || { ls -l /proc/"$(berthd_pid)"/fd >&2; return 1; }
}

check_oom() {
  local ev="$BERTH_DIR/oom-events.txt"
  "$CTR" --address "$BERTH_SOCK" events >"$ev" 2>&1 3>&- &
  local epid=$!
  sleep 0.3
  run crun --rm --memory-limit 16777216 "$IMAGE" "${PFX}oom" sh -c 'x=$(head -c 64m /dev/zero | tr "\\0" a)'
  [ "$status" -eq 137 ]
  local i
  for i in $(seq 1 100); do
    grep -q "/tasks/delete.*\"${PFX}oom\"" "$ev" && break
    sleep 0.05
  done
  kill "$epid"
  grep -q "/tasks/oom.*\"container_id\":\"${PFX}oom\"" "$ev" || { cat "$ev" >&2; return 1; }
  assert_no_task_leftovers
}
