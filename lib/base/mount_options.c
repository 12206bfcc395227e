/* containerd's mount option words, in one table for every caller that mounts. */
#include "lib/base/mount_options.h"
#include "lib/base/alloc.h"

#include <string.h>
#include <sys/mount.h>

static const struct {
    const char *name;
    bool clear; /* the word turns the flag off ("rw", "suid", ...) */
    unsigned long flag;
} flag_words[] = {
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

static const struct {
    const char *name;
    unsigned long flag;
} propagation_words[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

bool mount_option_apply(const char *option, unsigned long *flags, unsigned long *propagation)
{
    for (size_t i = 0; i < ARRAY_SIZE(flag_words); i++) {
        if (strcmp(option, flag_words[i].name) == 0) {
            if (flag_words[i].clear)
                *flags &= ~flag_words[i].flag;
            else
                *flags |= flag_words[i].flag;
            return true;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(propagation_words); i++) {
        if (strcmp(option, propagation_words[i].name) == 0) {
            *propagation |= propagation_words[i].flag;
            return true;
        }
    }
    return false;
}
