/*
 * unpack-bench MODE WORKDIR BLOBROOT DIGEST DIFF_ID...: one unpack of the given layers from the
 * content store at BLOBROOT (an OCI layout's blobs/ works) into a fresh overlayfs snapshotter
 * under WORKDIR; prints the seconds it took. MODE: sequential, threaded (each layer inflated on
 * its own thread), pipelined (threaded, and the next layer inflated ahead), each optionally with
 * "-zlib" (zlib instead of igzip for gzip). For bench/run.sh.
 */
#include "core/snapshots/fsutil.h"
#include "core/snapshots/local.h"
#include "core/unpack/unpack.h"
#include "lib/base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int open_blob(void *arg, const char *digest, struct content_reader **ret,
                     struct berth_error **err)
{
    return content_reader_open(arg, digest, ret, err);
}

int main(int argc, char **argv)
{
    if (argc < 6 || (argc - 4) % 2 != 0) {
        fprintf(stderr,
                "usage: %s sequential|threaded|pipelined WORKDIR BLOBROOT DIGEST DIFF_ID...\n",
                argv[0]);
        return 2;
    }
    struct unpack_options o = {.snapshotter_name = "overlayfs"};
    char mode[32];
    snprintf(mode, sizeof(mode), "%s", argv[1]);
    char *suffix = strchr(mode, '-');
    if (suffix && strcmp(suffix, "-zlib") == 0) {
        o.gzip_backend = LAYER_GZIP_ZLIB;
        *suffix = 0;
    }
    if (strcmp(mode, "sequential") == 0)
        o.sequential = true;
    else if (strcmp(mode, "threaded") == 0)
        o.no_read_ahead = true;
    else if (strcmp(mode, "pipelined") != 0)
        return fprintf(stderr, "unknown mode %s\n", argv[1]), 2;
    struct berth_error *err = NULL;
    struct content_store *store = NULL;
    if (content_store_open(argv[3], &store, &err) < 0)
        return fprintf(stderr, "%s\n", err->message), 1;
    _cleanup_free_ char *root = xasprintf("%s/unpack-bench-root", argv[2]);
    _cleanup_free_ char *tmp = xasprintf("%s/unpack-bench-tmp", argv[2]);
    static char *mount_options[] = {"index=off", NULL};
    struct local_options lo = {.mount_options = mount_options};
    struct snapshotter *sn = NULL;
    if (local_snapshotter_open(LOCAL_DRIVER_OVERLAY, "overlayfs", root, &lo, &sn, &err) < 0)
        return fprintf(stderr, "%s\n", err->message), 1;
    size_t n = (size_t)(argc - 4) / 2;
    struct unpack_layer *layers = xcalloc(n, sizeof(*layers));
    for (size_t i = 0; i < n; i++)
        layers[i] = (struct unpack_layer){.digest = argv[4 + 2 * i], .diff_id = argv[5 + 2 * i]};
    o.snapshotter = sn;
    o.content = (struct unpack_content){.open = open_blob, .arg = store};
    o.tmp_mounts = tmp;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct unpack_result res;
    int rc = unpack_layers(&o, layers, n, &res, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc < 0)
        fprintf(stderr, "unpack: %s\n", err->message);
    else
        printf("%.3f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    local_snapshotter_close(sn);
    content_store_close(store);
    free(layers);
    struct berth_error *rm_err = NULL;
    if (snapshot_fs_remove_all(root, &rm_err) < 0 || snapshot_fs_remove_all(tmp, &rm_err) < 0) {
        fprintf(stderr, "cleanup: %s\n", rm_err->message);
        rc = -1;
    }
    return rc < 0 ? 1 : 0;
}
