/* Tasks of containers as ctr drives them: create with IO, start, wait, delete. */
#pragma once

#include "cmd/berth/cli.h"

struct task_start_options {
    bool null_io, detach, no_pivot;
    const char *log_uri, *fifo_dir, *pid_file;
};

/*
 * ctr's NewTask + Wait + Start, and unless detached the wait for its exit, the drained output
 * and Tasks/Delete. Returns the task's exit status (0 when detached) or -1 with *err set.
 */
int tasks_run(struct cli *cli, const char *id, const struct task_start_options *o,
              struct berth_error **err);

/* Mounts the container's snapshot read-only and opens its root (O_DIRECTORY); -1 on error. */
int tasks_open_rootfs(struct cli *cli, const char *snapshotter, const char *key,
                      struct berth_error **err);

/*
 * ctr's task.Delete (exec_id "") or process.Delete with cio.Load: refused unless stopped (a
 * created task only without a pid) or forced (SIGKILL, wait); then Tasks/Delete or DeleteProcess
 * and the task's FIFOs removed. *ret_status is the exit status.
 */
int tasks_delete(struct cli *cli, const char *id, const char *exec_id, bool force,
                 uint32_t *ret_status, struct berth_error **err);

/* ctr's signal.ParseSignal: "SIGKILL", "KILL" or a number. -1 if unknown. */
int tasks_parse_signal(const char *text);

/* `berth tasks metrics` (commands_task_metrics.c) */
int tasks_metrics(struct cli *cli, int argc, char **argv);

int cli_tasks(struct cli *cli, int argc, char **argv);
int cli_run(struct cli *cli, int argc, char **argv);
int cli_containers_create(struct cli *cli, int argc, char **argv);
