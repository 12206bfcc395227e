#!/usr/bin/env bats
# berthd driving Berth's own shim (io.containerd.runc.v2 resolves to build/cmd/shim's
# containerd-shim-runc-v2) with Debian's real ctr: the same checks as tasks_goshim.bats, plus the
# issue's leak criterion (200 run --rm cycles).

load helpers
load tasks_common

RUNTIME=io.containerd.runc.v2

setup_file() {
  [ -x "$BERTH_BUILD/cmd/shim/containerd-shim-runc-v2" ] ||
    { export SKIP_ALL="Berth's shim is not built"; return 0; }
  tasks_setup_file
}
teardown_file() { tasks_teardown_file; }
setup() { tasks_setup; }

@test "berth shim: ctr run --rm echo hello" { check_run_rm_echo; }
@test "berth shim: exit codes and stdin" { check_exit_code; }
@test "berth shim: run -d, exec, ps, pause, resume, metrics, kill, rm" { check_detached_lifecycle; }
@test "berth shim: run -t gets a pty" { check_tty; }
@test "berth shim: task events in containerd's order" { check_events_order; }
@test "berth shim: a killed shim is cleaned up, exit and delete published" { check_dead_shim; }
@test "berth shim: 10 containers survive a SIGKILL of berthd" { check_restart_survival; }
@test "berth shim: errors" { check_errors; }
@test "berth shim: an OOM kill is published as /tasks/oom" { check_oom; }
@test "berth shim: 200 run --rm cycles leave nothing behind" { check_cycles 200; }
