/*
 * The local snapshotters (overlayfs and native): records in <root>/metadata.mdb, directories in
 * <root>/snapshots/<id> (overlayfs: <id>/fs and <id>/work), containerd's semantics and errors.
 */
#pragma once

#include "core/snapshots/snapshots.h"

enum local_driver { LOCAL_DRIVER_OVERLAY, LOCAL_DRIVER_NATIVE };

struct local_options {
    bool upperdir_label;  /* Stat/Walk/Update add containerd.io/snapshot/overlay.upperdir */
    bool sync_remove;     /* Remove deletes directories at once, not on Cleanup */
    char **mount_options; /* extra overlay options (after lowerdir), NULL-terminated */
};

#define OVERLAY_UPPERDIR_LABEL "containerd.io/snapshot/overlay.upperdir"

int local_snapshotter_open(enum local_driver driver, const char *name, const char *root,
                           const struct local_options *options, struct snapshotter **ret,
                           struct berth_error **err);
void local_snapshotter_close(struct snapshotter *sn);

/* overlay.c: probes the kernel at root (PLUGIN_SKIP-worthy errors are ERR_NOT_IMPLEMENTED). */
int overlay_check_supported(const char *root, struct berth_error **err);
bool overlay_needs_userxattr(const char *root);
bool overlay_supports_index(void);

struct plugin_registration;
extern const struct plugin_registration overlay_snapshotter_plugin;
extern const struct plugin_registration native_snapshotter_plugin;
