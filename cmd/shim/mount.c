/* Rootfs mounts from Create (overlay, bind, ...) into <bundle>/rootfs, and their removal. */
#include "cmd/shim/shim.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "proto/containerd/types/mount.pb-c.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>

struct flag_word {
    const char *name;
    bool clear;
    unsigned long flag;
};

/* containerd's option words that are mount flags rather than filesystem data. */
static const struct flag_word flag_words[] = {
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

static const struct flag_word propagation_words[] = {
    {"private", false, MS_PRIVATE},       {"rprivate", false, MS_PRIVATE | MS_REC},
    {"shared", false, MS_SHARED},         {"rshared", false, MS_SHARED | MS_REC},
    {"slave", false, MS_SLAVE},           {"rslave", false, MS_SLAVE | MS_REC},
    {"unbindable", false, MS_UNBINDABLE}, {"runbindable", false, MS_UNBINDABLE | MS_REC},
};

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
        bool matched = false;
        for (size_t k = 0; k < ARRAY_SIZE(flag_words) && !matched; k++)
            if (strcmp(o, flag_words[k].name) == 0) {
                flags =
                    flag_words[k].clear ? flags & ~flag_words[k].flag : flags | flag_words[k].flag;
                matched = true;
            }
        for (size_t k = 0; k < ARRAY_SIZE(propagation_words) && !matched; k++)
            if (strcmp(o, propagation_words[k].name) == 0) {
                propagation |= propagation_words[k].flag;
                matched = true;
            }
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
