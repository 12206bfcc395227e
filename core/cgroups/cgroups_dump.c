/* cgroups-dump: writes a process's cgroup Metrics, protobuf-encoded, to stdout (for tests). */
#include "core/cgroups/cgroups.h"
#include "lib/base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr,
                "usage: %s PID\n  prints the Metrics type URL on stderr, the message on "
                "stdout\n",
                argv[0]);
        return 2;
    }
    pid_t pid = (pid_t)atoi(argv[1]);
    enum cgroups_mode mode = cgroups_mode_detect(NULL);
    _cleanup_error_ struct berth_error *err = NULL;
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    ProtobufCMessage *metrics = NULL;
    if (cgroups_open_pid(NULL, mode, pid, &cg, &err) < 0 || cgroups_stats(cg, &metrics, &err) < 0) {
        fprintf(stderr, "cgroups-dump: %s (mode %s)\n", err->message, cgroups_mode_name(mode));
        return 1;
    }
    size_t len = protobuf_c_message_get_packed_size(metrics);
    _cleanup_free_ uint8_t *buf = xmalloc(len + 1);
    protobuf_c_message_pack(metrics, buf);
    fprintf(stderr, "%s\n", metrics->descriptor->name);
    cgroups_metrics_free(metrics);
    return fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
}
