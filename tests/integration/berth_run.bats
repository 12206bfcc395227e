#!/usr/bin/env bats
# berth run, containers and tasks against Debian's containerd (or the daemon BERTH_RUN_DAEMON
# names); the checks are in berth_run_common.bash, berth_run_berthd.bats runs them on berthd.

bats_require_minimum_version 1.5.0
load berth_run_common

@test "run --rm prints the output and leaves nothing" { check_run_rm; }
@test "the task's exit code is the CLI's, stderr stays stderr" { check_exit_code; }
@test "run without --rm keeps the container and its snapshot; containers rm removes them" { check_keep_and_rm; }
@test "stdin reaches the process and its end closes the process's stdin" { check_stdin; }
@test "env, env-file, cwd, user, mounts, hostname and read-only reach the process" { check_process_flags; }
@test "the stored spec is containerd 2.0's for the same flags" { check_stored_spec; }
@test "--runc-binary and --runc-root go into the runtime options" { check_runc_options; }
@test "a bad flag fails cleanly without leftovers" { check_bad_flags; }
@test "run -d, then tasks ls, ps, exec, pause, resume, kill and rm" { check_detached_lifecycle; }
@test "tasks rm -f kills a running task and removes its FIFOs" { check_tasks_rm_force; }
@test "tasks kill -a and --exec-id, exec -d and delete --exec-id" { check_kill_and_exec; }
@test "run -t gives the process a terminal (through script)" { check_tty; }
@test "signals to berth run are forwarded to the task" { check_signals; }
@test "--rootfs runs a directory that no snapshotter manages" { check_rootfs; }
@test "containers rm refuses a live task, deletes a stopped one first" { check_containers_rm_task; }
@test "tasks metrics: ctr's rows and JSON fields" { check_metrics "$METRICS_RUNTIME"; }
