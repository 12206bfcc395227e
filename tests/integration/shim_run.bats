#!/usr/bin/env bats
# Berth's shim under Debian's stock containerd 1.6 and ctr: run, exit codes, exec, ps,
# pause/resume, kill, a pty, event order, and nothing left behind.

load shim_helpers

setup_file() {
  shim_containerd_start
}

teardown_file() {
  shim_containerd_stop
}

@test "shim: run --rm echo prints hello" {
  run c run --rm --runtime "$RUNTIME" "$IMAGE" echo1 echo hello
  [ "$status" -eq 0 ]
  [ "$output" = "hello" ]
}

@test "shim: the exit code of the container is ctr's" {
  run c run --rm --runtime "$RUNTIME" "$IMAGE" exit7 sh -c 'exit 7'
  [ "$status" -eq 7 ]
}

@test "shim: detached task: exec, ps, pause, resume, kill, ls, rm" {
  c run -d --runtime "$RUNTIME" "$IMAGE" det1 sleep 1000
  run c task exec --exec-id e1 det1 sh -c 'echo from-exec; exit 3'
  [ "$status" -eq 3 ]
  [ "$output" = "from-exec" ]
  run c task ps det1
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | wc -l)" -ge 2 ]
  c task pause det1
  run c task ls
  [[ "$output" =~ det1[[:space:]]+[0-9]+[[:space:]]+PAUSED ]]
  c task resume det1
  run c task ls
  [[ "$output" =~ det1[[:space:]]+[0-9]+[[:space:]]+RUNNING ]]
  c task kill -s KILL det1
  for i in $(seq 1 50); do
    c task ls | grep -q "det1.*STOPPED" && break
    sleep 0.1
  done
  run c task ls
  [[ "$output" =~ det1[[:space:]]+[0-9]+[[:space:]]+STOPPED ]]
  c task rm det1
  c c rm det1
  run c task ls
  [[ ! "$output" =~ det1 ]]
}

@test "shim: run -t gets a pty that follows the terminal size" {
  run script -qec "ctr -a $SHIM_DIR/c.sock run -t --rm --runtime $RUNTIME $IMAGE tty1 busybox tty" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"/dev/pts/0"* ]]
  # busybox stty fails on a 0x0 terminal (ctr sets the size just after start): wait for a size
  run script -qec "stty cols 77 rows 21; ctr -a $SHIM_DIR/c.sock run -t --rm --runtime $RUNTIME $IMAGE tty2 sh -c 'until busybox stty size 2>/dev/null | grep -qv \"^0 0\"; do sleep 0.1; done; busybox stty size'" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"21 77"* ]]
}

@test "shim: task events come in containerd's order" {
  c events >"$SHIM_DIR/events.txt" 2>&1 &
  local ev=$!
  sleep 0.5
  c run -d --runtime "$RUNTIME" "$IMAGE" ev1 sleep 1000
  c task exec --exec-id x1 ev1 true
  c task kill -s KILL ev1
  for i in $(seq 1 50); do
    c task ls | grep -q "ev1.*STOPPED" && break
    sleep 0.1
  done
  c task rm ev1
  c c rm ev1
  for i in $(seq 1 50); do
    grep -q "/tasks/delete" "$SHIM_DIR/events.txt" && break
    sleep 0.1
  done
  kill "$ev"
  topics=$(grep -o '/tasks/[a-z-]*' "$SHIM_DIR/events.txt" | tr '\n' ' ')
  [ "$topics" = "/tasks/create /tasks/start /tasks/exec-added /tasks/exec-started /tasks/exit /tasks/exit /tasks/delete " ]
}

@test "shim: nothing is left behind: processes, sockets, state, mounts, console dirs" {
  c run --rm --runtime "$RUNTIME" "$IMAGE" last1 true
  for i in $(seq 1 50); do
    [ -z "$(shim_pids)" ] && break
    sleep 0.1
  done
  [ -z "$(shim_pids)" ]
  [ -z "$(ls -A "$SHIM_DIR/state/io.containerd.runtime.v2.task/default" 2>/dev/null)" ]
  # sockets: under state/s or the /run/berth/s fallback; none for this containerd remains
  [ -z "$(find "$SHIM_DIR/state/s" -type s 2>/dev/null)" ]
  ! grep -q "$SHIM_DIR/state" /proc/self/mounts
}

@test "shim: -v and -info" {
  run "$SHIM_BIN" -v
  [ "$status" -eq 0 ]
  [[ "$output" == *Version* ]]
  local proto="$BERTH_SRC/proto" info="$SHIM_DIR/info.bin"
  # RuntimeInfo as containerd 2.0's runc shim fills it: name (1), version (2), features (4); no
  # options (3) without options on stdin, never annotations (5)
  "$SHIM_BIN" -info </dev/null >"$info"
  run protoc -I"$proto" --decode=containerd.types.RuntimeInfo containerd/types/introspection.proto <"$info"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c '^[a-z]')" -eq 3 ]
  [[ "${lines[0]}" == 'name: "io.containerd.runc.v2"' ]]
  echo "$output" | grep -q '^version {'
  echo "$output" | grep -q '^features {'
  echo "$output" | grep -q 'type_url: "types.containerd.io/opencontainers/runtime-spec/1/features/Features"'
  # the features are runc's own, as compact JSON
  protoc --decode_raw <"$info" | grep -q 'ociVersionMax'
  local raw
  raw=$(protoc --decode_raw <"$info" | sed -n '/^4 {/,/^}/p' | grep '^  2: ' | sed 's/^  2: //')
  [[ "$raw" == '"{\"ociVersionMin\":'* ]]
  # runc.v1.Options on stdin are echoed back (type containerd.runc.v1.Options)
  local opts="$SHIM_DIR/opts.bin" optsany="$SHIM_DIR/optsany.bin"
  echo 'binary_name: "runc" root: "/run/x"' |
    protoc -I"$proto" --encode=containerd.runc.v1.Options containerd/types/runc/options/oci.proto >"$opts"
  printf 'type_url: "containerd.runc.v1.Options" value: "%s"' "$(od -An -v -to1 "$opts" | tr -d '\n' | sed 's/ /\\/g')" |
    protoc -I"$proto" --encode=google.protobuf.Any google/protobuf/any.proto >"$optsany"
  "$SHIM_BIN" -info <"$optsany" >"$info"
  run protoc -I"$proto" --decode=containerd.types.RuntimeInfo containerd/types/introspection.proto <"$info"
  [ "$(echo "$output" | grep -c '^[a-z]')" -eq 4 ]
  echo "$output" | grep -q 'type_url: "containerd.runc.v1.Options"'
  echo "$output" | grep -q '/run/x'
  # a BinaryName that does not exist fails as the reference does
  echo 'binary_name: "no-such-runtime"' |
    protoc -I"$proto" --encode=containerd.runc.v1.Options containerd/types/runc/options/oci.proto >"$opts"
  printf 'type_url: "containerd.runc.v1.Options" value: "%s"' "$(od -An -v -to1 "$opts" | tr -d '\n' | sed 's/ /\\/g')" |
    protoc -I"$proto" --encode=google.protobuf.Any google/protobuf/any.proto >"$optsany"
  run "$SHIM_BIN" -info <"$optsany"
  [ "$status" -ne 0 ]
  [[ "$output" == *'failed to look up the path of "no-such-runtime"'* ]]
  # options of another type are refused
  echo 'type_url: "x.Other" value: "abc"' |
    protoc -I"$proto" --encode=google.protobuf.Any google/protobuf/any.proto >"$optsany"
  run "$SHIM_BIN" -info <"$optsany"
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid type"* ]]
}

# Waits (bounded) until the events file has a line matching the pattern.
wait_event() { # file pattern
  local i
  for i in $(seq 1 100); do
    grep -q -- "$2" "$1" && return 0
    sleep 0.1
  done
  cat "$1" >&2
  return 1
}

@test "shim: task metrics from the container's cgroup, as a table and as json" {
  c run -d --runtime "$RUNTIME" "$IMAGE" met1 sleep 1000
  run c task metrics met1
  [ "$status" -eq 0 ]
  [[ "$output" == *"met1"* ]]
  [[ "$output" =~ pids.current[[:space:]]+1 ]]
  [[ "$output" =~ memory.usage_in_bytes[[:space:]]+[1-9][0-9]* ]]
  [[ "$output" =~ cpuacct.usage[[:space:]]+[1-9][0-9]* ]]
  run c task metrics --format json met1
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r '.pids.current')" = 1 ]
  [ "$(echo "$output" | jq -r '.memory.usage.usage > 0')" = true ]
  # the limit set at run time is the one reported
  c run -d --runtime "$RUNTIME" --memory-limit 33554432 "$IMAGE" met2 sleep 1000
  run c task metrics --format json met2
  [ "$(echo "$output" | jq -r '.memory.usage.limit')" = 33554432 ]
  c task kill -s KILL met1
  c task kill -s KILL met2
  for i in $(seq 1 50); do
    [ "$(c task ls | grep -c 'met[12].*STOPPED')" -eq 2 ] && break
    sleep 0.1
  done
  # a stopped task that is not deleted still has its cgroup
  run c task metrics met1
  [ "$status" -eq 0 ]
  c task rm met1
  c task rm met2
  c c rm met1 met2
}

@test "shim: an OOM kill in the container is published as /tasks/oom before its exit" {
  local ev="$SHIM_DIR/oom-events.txt"
  c events >"$ev" 2>&1 &
  local epid=$!
  sleep 0.5
  run c run --rm --runtime "$RUNTIME" --memory-limit 16777216 "$IMAGE" oom1 \
    sh -c 'x=$(head -c 64m /dev/zero | tr "\\0" a)'
  [ "$status" -eq 137 ]
  wait_event "$ev" '/tasks/delete.*"oom1"'
  kill "$epid"
  grep -q '/tasks/oom.*"container_id":"oom1"' "$ev"
  # containerd's order: the OOM before the exit of the task it killed
  topics=$(grep -o '/tasks/[a-z-]*' "$ev" | tr '\n' ' ')
  [[ "$topics" == *"/tasks/oom /tasks/exit"* ]]
}

@test "shim: run -t output is byte for byte Debian's Go shim's (the ^@ is script's stdin EOF)" {
  [ -x /usr/bin/containerd-shim-runc-v2 ] || skip "Debian's containerd-shim-runc-v2 is missing"
  # script sends the pty's EOF character when its stdin ends; ctr's raw terminal passes it on as
  # a NUL that the container's terminal echoes as "^@". Same bytes with either shim.
  local ours go
  ours=$(script -qec "ctr -a $SHIM_DIR/c.sock run -t --rm --runtime $RUNTIME $IMAGE nul1 echo hi" /dev/null </dev/null | od -An -c)
  go=$(script -qec "ctr -a $SHIM_DIR/c.sock run -t --rm --runtime io.containerd.runc.v2 $IMAGE nul$$ echo hi" /dev/null </dev/null | od -An -c)
  [ "$ours" = "$go" ]
  # with stdin held open nothing precedes the container's output
  exec 5< <(exec sleep 60)
  local holder=$!
  ours=$(script -qec "ctr -a $SHIM_DIR/c.sock run -t --rm --runtime $RUNTIME $IMAGE nul2 echo hi" /dev/null <&5 | od -An -c)
  kill "$holder"
  exec 5<&-
  [ "$(echo $ours)" = 'h i \r \r \n' ]
}

# Waits (bounded) until the task is gone from `ctr task ls`.
wait_task_gone() { # id
  local i
  for i in $(seq 1 100); do
    c task ls -q | grep -qx "$1" || return 0
    sleep 0.1
  done
  return 1
}

@test "shim: --log-uri file:// appends stdout and stderr to the file" {
  local log="$SHIM_DIR/logs/sub/file1.log"
  c run -d --runtime "$RUNTIME" --log-uri "file://$log" "$IMAGE" file1 \
    sh -c 'echo to-out; echo to-err >&2'
  for i in $(seq 1 100); do [ "$(grep -c to- "$log" 2>/dev/null)" = 2 ] && break; sleep 0.1; done
  grep -qx to-out "$log"
  grep -qx to-err "$log"
  for i in $(seq 1 50); do c task ls | grep -q "file1.*STOPPED" && break; sleep 0.1; done
  c task rm file1
  c c rm file1
  # a second container appends to the same file
  c run -d --runtime "$RUNTIME" --log-uri "file://$log" "$IMAGE" file2 echo to-again
  for i in $(seq 1 100); do grep -q to-again "$log" && break; sleep 0.1; done
  [ "$(wc -l <"$log")" -eq 3 ]
  [ "$(head -1 "$log" | cut -c1-3)" = to- ]
  for i in $(seq 1 50); do c task ls | grep -q "file2.*STOPPED" && break; sleep 0.1; done
  c task rm file2
  c c rm file2
}

@test "shim: --log-uri binary:// runs the logger with fds 3/4, its args and only its two variables" {
  local out="$SHIM_DIR/binlog"
  mkdir -p "$out"
  cat >"$SHIM_DIR/logger" <<'SH'
#!/bin/bash
# args: dir <dir>; fd 3 stdout, fd 4 stderr, fd 5 closed to say ready
dir="$2"
env | sort >"$dir/env"
echo "$@" >"$dir/args"
exec 5>&-
cat <&3 >"$dir/stdout" &
cat <&4 >"$dir/stderr" &
wait
touch "$dir/done"
SH
  chmod +x "$SHIM_DIR/logger"
  c run -d --runtime "$RUNTIME" --log-uri "binary://$SHIM_DIR/logger?dir=$out" "$IMAGE" bin1 \
    sh -c 'echo to-out; echo to-err >&2'
  for i in $(seq 1 100); do [ -e "$out/done" ] && break; sleep 0.1; done
  [ -e "$out/done" ]
  [ "$(cat "$out/stdout")" = to-out ]
  [ "$(cat "$out/stderr")" = to-err ]
  [ "$(cat "$out/args")" = "dir $out" ]
  grep -qx "CONTAINER_ID=bin1" "$out/env"
  grep -qx "CONTAINER_NAMESPACE=default" "$out/env"
  # the reference sets no other variable (bash adds PWD, SHLVL and _ itself)
  [ -z "$(grep -v -E '^(CONTAINER_ID|CONTAINER_NAMESPACE|PWD|SHLVL|_)=' "$out/env")" ]
  for i in $(seq 1 50); do c task ls | grep -q "bin1.*STOPPED" && break; sleep 0.1; done
  c task rm bin1
  c c rm bin1
}

@test "shim: containers of one io.containerd.runc.v2.group share one shim, which exits after the last" {
  [ -z "$(shim_pids)" ]
  c run -d --runtime "$RUNTIME" --annotation io.containerd.runc.v2.group=grp1 "$IMAGE" g1 sleep 1000
  c run -d --runtime "$RUNTIME" --annotation io.containerd.runc.v2.group=grp1 "$IMAGE" g2 sleep 1000
  [ "$(shim_pids | wc -l)" -eq 1 ]
  local shim
  shim=$(shim_pids)
  # both containers are children of that one shim
  [ "$(ps -o pid= --ppid "$shim" | wc -l)" -eq 2 ]
  # a container outside the group gets its own
  c run -d --runtime "$RUNTIME" "$IMAGE" g3 sleep 1000
  [ "$(shim_pids | wc -l)" -eq 2 ]
  c task kill -s KILL g3
  c task kill -s KILL g1
  for i in $(seq 1 50); do [ "$(c task ls | grep -c 'g[13].*STOPPED')" -eq 2 ] && break; sleep 0.1; done
  c task rm g1
  c c rm g1
  c task rm g3
  c c rm g3
  for i in $(seq 1 50); do [ "$(shim_pids | wc -l)" -eq 1 ] && break; sleep 0.1; done
  # g2 still served by the same shim
  [ "$(shim_pids)" = "$shim" ]
  run c task exec --exec-id x g2 echo still-here
  [ "$output" = still-here ]
  c task kill -s KILL g2
  for i in $(seq 1 50); do c task ls | grep -q "g2.*STOPPED" && break; sleep 0.1; done
  c task rm g2
  c c rm g2
  for i in $(seq 1 50); do kill -0 "$shim" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$shim" 2>/dev/null
  [ -z "$(find "$SHIM_DIR/state/s" -type s 2>/dev/null)" ]
}

@test "shim: a SIGKILLed shim is cleaned up by the delete action (container killed, bundle removed, /tasks/exit)" {
  local ev="$SHIM_DIR/kill-events.txt"
  c run -d --runtime "$RUNTIME" "$IMAGE" k1 sleep 1000
  local cpid shim bundle="$SHIM_DIR/state/io.containerd.runtime.v2.task/default/k1"
  cpid=$(c task ls | awk '$1 == "k1" {print $2}')
  shim=$(shim_pids)
  [ -n "$cpid" ] && [ -n "$shim" ]
  [ -d "$bundle" ]
  c events >"$ev" 2>&1 &
  local epid=$!
  sleep 0.5
  kill -KILL "$shim"
  wait_task_gone k1
  wait_event "$ev" '/tasks/exit.*"k1"'
  kill "$epid"
  # the container's process is gone (runc delete --force), so is the bundle and its mount
  for i in $(seq 1 50); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$cpid" 2>/dev/null
  [ ! -e "$bundle" ]
  ! grep -q " $bundle/rootfs " /proc/self/mountinfo
  grep -q '"exit_status":137' "$ev"
  c c rm k1
}

@test "shim: a long-lived shim's fds do not grow with execs, metrics, ps and pause/resume" {
  c run -d --runtime "$RUNTIME" "$IMAGE" long1 sleep 1000
  local shim
  shim=$(shim_pids)
  c task exec --exec-id warm long1 true
  c task metrics long1 >/dev/null
  local before after i
  before=$(ls /proc/"$shim"/fd | wc -l)
  for i in $(seq 1 40); do
    c task exec --exec-id "x$i" long1 sh -c 'echo out; echo err >&2' >/dev/null 2>&1
    c task metrics long1 >/dev/null
    c task ps long1 >/dev/null
  done
  for i in $(seq 1 5); do c task pause long1; c task resume long1; done
  after=$(ls /proc/"$shim"/fd | wc -l)
  [ "$before" -eq "$after" ] || { ls -l /proc/"$shim"/fd >&2; false; }
  # no exec state is left in the bundle
  [ -z "$(ls "$SHIM_DIR/state/io.containerd.runtime.v2.task/default/long1" | grep -E '^x[0-9]+\.(pid|process\.json)$')" ]
  c task kill -s KILL long1
  for i in $(seq 1 50); do c task ls | grep -q "long1.*STOPPED" && break; sleep 0.1; done
  c task rm long1
  c c rm long1
}
