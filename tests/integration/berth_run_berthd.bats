#!/usr/bin/env bats
# berth_run.bats's checks (berth_run_common.bash) against berthd, with Berth's own shim for the
# default runtime; metrics also through Debian's Go shim, which berthd drives by path.

bats_require_minimum_version 1.5.0
BERTH_RUN_DAEMON=berthd
load berth_run_common

@test "berthd: run --rm prints the output and leaves nothing" { check_run_rm; }
@test "berthd: the task's exit code is the CLI's, stderr stays stderr" { check_exit_code; }
@test "berthd: run without --rm keeps the container and its snapshot; containers rm removes them" { check_keep_and_rm; }
@test "berthd: stdin reaches the process and its end closes the process's stdin" { check_stdin; }
@test "berthd: env, env-file, cwd, user, mounts, hostname and read-only reach the process" { check_process_flags; }
@test "berthd: the stored spec is containerd 2.0's for the same flags" { check_stored_spec; }
@test "berthd: --runc-binary and --runc-root go into the runtime options" { check_runc_options; }
@test "berthd: a bad flag fails cleanly without leftovers" { check_bad_flags; }
@test "berthd: run -d, then tasks ls, ps, exec, pause, resume, kill and rm" { check_detached_lifecycle; }
@test "berthd: tasks rm -f kills a running task and removes its FIFOs" { check_tasks_rm_force; }
@test "berthd: tasks kill -a and --exec-id, exec -d and delete --exec-id" { check_kill_and_exec; }
@test "berthd: run -t gives the process a terminal (through script)" { check_tty; }
@test "berthd: signals to berth run are forwarded to the task" { check_signals; }
@test "berthd: --rootfs runs a directory that no snapshotter manages" { check_rootfs; }
@test "berthd: containers rm refuses a live task, deletes a stopped one first" { check_containers_rm_task; }
@test "berthd: tasks metrics with Debian's Go shim" {
  [ -x /usr/bin/containerd-shim-runc-v2 ] || skip "Debian's containerd-shim-runc-v2 is missing"
  check_metrics /usr/bin/containerd-shim-runc-v2
}
@test "berthd: tasks metrics with Berth's shim" { check_metrics io.containerd.runc.v2; }
