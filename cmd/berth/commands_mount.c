/* berth images mount|unmount: an image's unpacked snapshot mounted on a directory, as ctr 1.6. */
#include "cmd/berth/archive_remote.h"
#include "cmd/berth/unpack.h"
#include "core/diff/mounts.h"
#include "lib/base/alloc.h"

#include "containerd/services/leases/v1/leases.pb-c.h"
#include "containerd/types/mount.pb-c.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

/* ctr's leases.WithExpiration(24*time.Hour) for the mount's lease. */
#define MOUNT_LEASE_SECONDS (24L * 3600)
/* mount.UnmountAll loops until nothing is mounted; stacked mounts beyond this are hostile. */
#define MAX_STACKED_MOUNTS 64

/* mount.All on the snapshot's mounts; whatever was mounted is taken down on failure. */
static int mount_all(Containerd__Types__Mount **mounts, size_t n, const char *target,
                     struct berth_error **err)
{
    struct diff_mount *dm = xcalloc(n + 1, sizeof(*dm));
    for (size_t i = 0; i < n; i++) {
        dm[i].type = mounts[i]->type;
        dm[i].source = mounts[i]->source;
        dm[i].target = mounts[i]->target;
        dm[i].options = (const char *const *)mounts[i]->options;
        dm[i].n_options = mounts[i]->n_options;
    }
    int rc = diff_mounts_mount(dm, n, target, err);
    if (rc < 0) {
        struct berth_error *ignored = NULL;
        if (diff_mounts_unmount(dm, n, target, &ignored) < 0)
            err_free(ignored);
    }
    free(dm);
    return rc;
}

/* mount.UnmountAll(target, 0): unmounts until nothing is left; a missing target is no error. */
static int unmount_all(const char *target, struct berth_error **err)
{
    for (int i = 0; i < MAX_STACKED_MOUNTS; i++) {
        if (umount2(target, 0) == 0)
            continue;
        if (errno == EINVAL || errno == ENOENT)
            return 0;
        return err_make(err, ERR_UNKNOWN, errno, "failed to unmount target %s", target);
    }
    return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "unmount %s: more than %d stacked mounts",
                    target, MAX_STACKED_MOUNTS);
}

static int lease_delete(struct cli *cli, const char *id, struct berth_error **err)
{
    struct berth_error *local = NULL;
    if (archive_remote_lease_delete(cli, id, false, &local) == 0)
        return 0;
    if (local->kind == ERR_NOT_FOUND) {
        err_free(local);
        return 0;
    }
    *err = local;
    return -1;
}

static void mount_usage(void)
{
    printf("NAME:\n   berth images mount - Mount an image to a target path\n\n"
           "USAGE:\n   berth images mount [command options] [flags] <ref> <target>\n\n"
           "OPTIONS:\n"
           "   --snapshotter value  Snapshotter name [$CONTAINERD_SNAPSHOTTER]\n"
           "   --rw                 Enable write support on the mount\n"
           "   --platform value     Mount the image for the specified platform\n");
}

int cli_images_mount(struct cli *cli, int argc, char **argv)
{
    enum { OPT_SNAPSHOTTER = 1000, OPT_RW, OPT_PLATFORM, OPT_HELP };
    static const struct option longopts[] = {
        {"snapshotter", required_argument, NULL, OPT_SNAPSHOTTER},
        {"rw", no_argument, NULL, OPT_RW},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"help", no_argument, NULL, OPT_HELP},
        {0},
    };
    const char *snapshotter = NULL, *platform = NULL;
    bool rw = false;
    int c;
    while ((c = getopt_long_only(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SNAPSHOTTER:
            snapshotter = optarg;
            break;
        case OPT_RW:
            rw = true;
            break;
        case OPT_PLATFORM:
            platform = optarg;
            break;
        case 'h':
        case OPT_HELP:
            mount_usage();
            return 0;
        default:
            return 1;
        }
    }
    const char *ref = optind < argc ? argv[optind] : "";
    const char *target = optind + 1 < argc ? argv[optind + 1] : "";
    if (!*ref)
        cli_fail("please provide an image reference to mount");
    if (!*target)
        cli_fail("please provide a target path to mount to");
    snapshotter = unpack_snapshotter_name(snapshotter);

    struct berth_error *err = NULL;
    /* the lease is named by the target and holds the snapshot keyed by it (ctr's WithLease) */
    _cleanup_free_ char *gc_key = xasprintf("containerd.io/gc.ref.snapshot.%s", snapshotter);
    bool own_lease = true;
    if (unpack_lease_create(cli, target, MOUNT_LEASE_SECONDS, gc_key, target, &err) < 0) {
        if (err->kind != ERR_ALREADY_EXISTS)
            cli_fail("%s", err->message);
        err_free(err);
        err = NULL;
        own_lease = false; /* an earlier mount's: ctr keeps it on failure too */
    }

    struct archive_platform p = {0};
    if (platform) {
        if (archive_platform_parse(platform, &p, &err) < 0)
            goto fail_wrap_platform;
    } else {
        archive_platform_default(&p);
    }
    struct platform_matcher matcher = {0};
    platform_matcher_only(&matcher, &p);

    struct archive_remote *remote = archive_remote_new(cli, target, IMPORT_NAMING_CLIENT);
    struct export_source source = archive_remote_source(remote);
    struct archive_image image = {0};
    char chain[DIGEST_STRING_SIZE] = "";
    int rc = source.image_get(source.arg, ref, &image, &err);
    if (rc == 0 &&
        unpack_image(cli, snapshotter, target, &image.target, &matcher, chain, &err) < 0) {
        err_wrap(&err, "error unpacking image");
        rc = -1;
    }
    archive_image_clear(&image);
    archive_remote_free(remote);
    platform_matcher_clear(&matcher);
    archive_platform_clear(&p);
    if (rc < 0)
        goto fail;
    printf("%s\n", chain);
    fflush(stdout);

    void **mounts = NULL;
    size_t n_mounts = 0;
    ProtobufCMessage *resp = unpack_snapshot_mounts(cli, snapshotter, target, rw, target, chain,
                                                    &mounts, &n_mounts, &err);
    if (!resp)
        goto fail;
    rc = mount_all((Containerd__Types__Mount **)mounts, n_mounts, target, &err);
    protobuf_c_message_free_unpacked(resp, NULL);
    if (rc < 0) {
        struct berth_error *rm_err = NULL;
        if (unpack_snapshot_remove(cli, snapshotter, target, &rm_err) < 0) {
            if (rm_err->kind != ERR_NOT_FOUND)
                fprintf(stderr, "Error cleaning up snapshot after mount error: %s\n",
                        rm_err->message);
            err_free(rm_err);
        }
        goto fail;
    }
    printf("%s\n", target);
    return 0;

fail_wrap_platform:
    err_wrap(&err, "unable to parse platform %s", platform);
fail:
    if (own_lease) { /* ctr's done(ctx) on failure */
        struct berth_error *ignored = NULL;
        if (lease_delete(cli, target, &ignored) < 0)
            err_free(ignored);
    }
    cli_fail("%s", err->message);
}

static void unmount_usage(void)
{
    printf("NAME:\n   berth images unmount - Unmount the image from the target\n\n"
           "USAGE:\n   berth images unmount [command options] [flags] <target>\n\n"
           "OPTIONS:\n"
           "   --rm                 Remove the snapshot after a successful unmount\n"
           "   --snapshotter value  Snapshotter name [$CONTAINERD_SNAPSHOTTER]\n");
}

int cli_images_unmount(struct cli *cli, int argc, char **argv)
{
    enum { OPT_RM = 1000, OPT_SNAPSHOTTER, OPT_HELP };
    static const struct option longopts[] = {
        {"rm", no_argument, NULL, OPT_RM},
        {"snapshotter", required_argument, NULL, OPT_SNAPSHOTTER},
        {"help", no_argument, NULL, OPT_HELP},
        {0},
    };
    const char *snapshotter = NULL;
    bool rm = false;
    int c;
    while ((c = getopt_long_only(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_RM:
            rm = true;
            break;
        case OPT_SNAPSHOTTER:
            snapshotter = optarg;
            break;
        case 'h':
        case OPT_HELP:
            unmount_usage();
            return 0;
        default:
            return 1;
        }
    }
    const char *target = optind < argc ? argv[optind] : "";
    if (!*target)
        cli_fail("please provide a target path to unmount from");
    snapshotter = unpack_snapshotter_name(snapshotter);

    _cleanup_error_ struct berth_error *err = NULL;
    if (unmount_all(target, &err) < 0)
        cli_fail("%s", err->message);
    if (rm) {
        if (lease_delete(cli, target, &err) < 0)
            cli_fail("error deleting lease: %s", err->message);
        if (unpack_snapshot_remove(cli, snapshotter, target, &err) < 0) {
            if (err->kind != ERR_NOT_FOUND)
                cli_fail("error removing snapshot: %s", err->message);
            err_free(err);
            err = NULL;
        }
    }
    printf("%s\n", target);
    return 0;
}
