#!/usr/bin/env bats
# berthd driving Debian's Go shim (containerd-shim-runc-v2 from the containerd package) with
# Debian's real ctr: the runtime v2 contract from the daemon side, against a stock shim.

load helpers
load tasks_common

RUNTIME=/usr/bin/containerd-shim-runc-v2

setup_file() {
  [ -x "$RUNTIME" ] || { export SKIP_ALL="Debian's containerd-shim-runc-v2 is missing"; return 0; }
  tasks_setup_file
}
teardown_file() { tasks_teardown_file; }
setup() { tasks_setup; }

@test "go shim: ctr run --rm echo hello" { check_run_rm_echo; }
@test "go shim: exit codes and stdin" { check_exit_code; }
@test "go shim: run -d, exec, ps, pause, resume, metrics, kill, rm" { check_detached_lifecycle; }
@test "go shim: run -t gets a pty" { check_tty; }
@test "go shim: task events in containerd's order" { check_events_order; }
@test "go shim: a killed shim is cleaned up, exit and delete published" { check_dead_shim; }
@test "go shim: 10 containers survive a SIGKILL of berthd" { check_restart_survival; }
@test "go shim: errors" { check_errors; }
@test "go shim: an OOM kill is published as /tasks/oom" { check_oom; }
@test "go shim: 20 run --rm cycles leave nothing behind" { check_cycles 20; }
