/* Client-side task IO as containerd's pkg/cio: FIFOs, copy threads, raw terminal, signals. */
#pragma once

#include "cmd/berth/cli.h"

#include <stdbool.h>

/* Berth's counterpart of containerd's /run/containerd/fifo. */
#define TASK_IO_DEFAULT_FIFO_DIR "/run/berth/fifo"

struct task_io;

/*
 * cio.NewCreator: a fresh directory <fifo_dir>/<random>/ with FIFOs <id>-stdin, <id>-stdout and,
 * without a terminal, <id>-stderr. Nothing is copied until task_io_start.
 */
int task_io_new_fifos(const char *fifo_dir, const char *id, bool terminal, struct task_io **ret,
                      struct berth_error **err);
/* cio.NullIO (all paths empty) and cio.LogURI (stdout and stderr are the URI). */
struct task_io *task_io_new_null(void);
struct task_io *task_io_new_log_uri(const char *uri);
/* cio.NewAttach: the FIFOs an existing process was created with. */
struct task_io *task_io_attach(const char *stdin_path, const char *stdout_path,
                               const char *stderr_path, bool terminal);

const char *task_io_stdin(const struct task_io *io);
const char *task_io_stdout(const struct task_io *io);
const char *task_io_stderr(const struct task_io *io);
bool task_io_terminal(const struct task_io *io);

/*
 * Starts copying: the FIFOs' output to our stdout/stderr, our stdin into the process; at the
 * end of our stdin, the FIFO is closed and Tasks/CloseIO sent for (id, exec_id) once
 * task_io_process_created has been called.
 */
void task_io_start(struct task_io *io, struct cli *cli, const char *id, const char *exec_id);
void task_io_process_created(struct task_io *io);
/* Waits until the process's output is drained (the shim closed its ends). */
void task_io_wait(struct task_io *io);
/* Unblocks copy threads still waiting for the shim to open the FIFOs (creation failed). */
void task_io_cancel(struct task_io *io);
/* Stops copying output and frees io, leaving the FIFOs (run -d, exec -d). */
void task_io_detach(struct task_io *io);
/* Removes the FIFOs and their directory (the fds stay usable) and frees io. */
void task_io_free(struct task_io *io, bool remove_fifos);

/*
 * Removes FIFOs of a process that another berth started, after its delete: the files named
 * <id>-stdin|stdout|stderr among `paths`, then their directory when it is empty.
 */
void task_io_remove_paths(const char *id, const char *const paths[3]);

/* console.Current().SetRaw(): fails when stdin is not a terminal; restored at exit. */
int task_io_terminal_raw(struct berth_error **err);
/* The terminal's size (console.Size), 0 on success. */
int task_io_terminal_size(unsigned *width, unsigned *height);

/*
 * Signal handling while a task runs, in a thread of its own: with a terminal, SIGWINCH resizes
 * the process's pty (Tasks/ResizePty); otherwise every signal but SIGCHLD, SIGPIPE, SIGURG and
 * SIGWINCH is forwarded with Tasks/Kill (ctr's ForwardAllSignals). task_signals_block must have
 * run before any thread (the RPC loop included) was started, so no other thread takes them.
 */
void task_signals_block(void);
void task_signals_start(struct cli *cli, const char *id, const char *exec_id, bool terminal);
