/* Rootfs mounts from Create (overlay, bind, ...) into <bundle>/rootfs, and their removal. */
#include "cmd/shim/shim.h"
#include "lib/base/alloc.h"
#include "lib/base/mount_options.h"
#include "lib/base/log.h"
#include "proto/containerd/types/mount.pb-c.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>

static int mount_one(const Containerd__Types__Mount *m, const char *target,
                     struct berth_error **err)
{
    unsigned long flags = 0, propagation = 0;
    size_t cap = 1, len = 0;
    for (size_t i = 0; i < m->n_options; i++)
        cap += strlen(m->options[i]) + 1;
    _cleanup_free_ char *data = xcalloc(1, cap);
    for (size_t i = 0; i < m->n_options; i++) {
        const char *o = m->options[i];
        bool matched = mount_option_apply(o, &flags, &propagation);
        if (!matched) {
            if (len)
                data[len++] = ',';
            len += (size_t)sprintf(data + len, "%s", o);
        }
    }
    const char *type = m->type && *m->type ? m->type : "none";
    /* A read-only bind needs a remount to take the flag. */
    unsigned long first = (flags & MS_BIND) ? flags & ~MS_RDONLY : flags;
    if (mount(m->source, target, type, first, len ? data : NULL) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "mount %s:%s on %s", type,
                        m->source ? m->source : "", target);
    if ((flags & MS_BIND) && (flags & MS_RDONLY) &&
        mount("", target, "", first | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
        int e = errno;
        umount2(target, MNT_DETACH);
        return err_make(err, err_kind_from_errno(e), e, "remount %s read-only", target);
    }
    if (propagation && mount("", target, "", propagation, NULL) < 0) {
        int e = errno;
        umount2(target, MNT_DETACH);
        return err_make(err, err_kind_from_errno(e), e, "set propagation of %s", target);
    }
    return 0;
}

int rootfs_mount(const char *bundle, Containerd__Types__Mount **mounts, size_t n,
                 struct berth_error **err)
{
    _cleanup_free_ char *target = xasprintf("%s/rootfs", bundle);
    for (size_t i = 0; i < n; i++) {
        if (mount_one(mounts[i], target, err) < 0) {
            rootfs_unmount(bundle);
            return -1;
        }
    }
    return 0;
}

void rootfs_unmount(const char *bundle)
{
    _cleanup_free_ char *target = xasprintf("%s/rootfs", bundle);
    /* Mounts may be stacked: take them off until nothing is mounted there. */
    for (int i = 0; i < 64; i++) {
        if (umount2(target, 0) == 0)
            continue;
        if (errno == EBUSY && umount2(target, MNT_DETACH) == 0)
            continue;
        if (errno != EINVAL && errno != ENOENT)
            log_warn("unmount %s: %s", target, strerror(errno));
        break;
    }
}
