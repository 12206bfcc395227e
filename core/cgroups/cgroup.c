/* Host mode detection and resolving a process's (or a path's) cgroup into a handle. */
#include "core/cgroups/cgroups-internal.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#define DEFAULT_CGROUP_ROOT   "/sys/fs/cgroup"
#define DEFAULT_PROC_ROOT     "/proc"
#define DEFAULT_HUGEPAGES_DIR "/sys/kernel/mm/hugepages"

static const char *const controller_names[CGROUPS_CONTROLLER_COUNT] = {
    [CGROUPS_PIDS] = "pids",       [CGROUPS_CPU] = "cpu",     [CGROUPS_CPUACCT] = "cpuacct",
    [CGROUPS_MEMORY] = "memory",   [CGROUPS_BLKIO] = "blkio", [CGROUPS_RDMA] = "rdma",
    [CGROUPS_HUGETLB] = "hugetlb",
};

const char *cgroups_controller_name(enum cgroups_controller c)
{
    return (unsigned)c < CGROUPS_CONTROLLER_COUNT ? controller_names[c] : "unknown";
}

enum cgroups_mode cgroups_mode_detect(const char *cgroup_root)
{
    if (!cgroup_root)
        cgroup_root = DEFAULT_CGROUP_ROOT;
    struct statfs st;
    if (statfs(cgroup_root, &st) < 0)
        return CGROUPS_MODE_UNAVAILABLE;
    if (st.f_type == CGROUP2_SUPER_MAGIC)
        return CGROUPS_MODE_UNIFIED;
    _cleanup_free_ char *unified = xasprintf("%s/unified", cgroup_root);
    if (statfs(unified, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
        return CGROUPS_MODE_HYBRID;
    return CGROUPS_MODE_LEGACY;
}

const char *cgroups_mode_name(enum cgroups_mode mode)
{
    switch (mode) {
    case CGROUPS_MODE_UNAVAILABLE:
        return "unavailable";
    case CGROUPS_MODE_LEGACY:
        return "legacy";
    case CGROUPS_MODE_HYBRID:
        return "hybrid";
    case CGROUPS_MODE_UNIFIED:
        return "unified";
    }
    return "unknown";
}

struct cgroup *cgroups_free(struct cgroup *cg)
{
    if (!cg)
        return NULL;
    for (size_t i = 0; i < CGROUPS_CONTROLLER_COUNT; i++)
        free(cg->dir[i]);
    free(cg->group_dir);
    free(cg->proc_root);
    free(cg->hugepages_dir);
    free(cg->hugetlb_sizes);
    free(cg);
    return NULL;
}

bool cgroups_is_unified(const struct cgroup *cg)
{
    return cg->unified;
}

const char *cgroups_path(const struct cgroup *cg, enum cgroups_controller c)
{
    if (cg->unified)
        return cg->group_dir;
    return (unsigned)c < CGROUPS_CONTROLLER_COUNT ? cg->dir[c] : NULL;
}

static struct cgroup *cgroup_new(const struct cgroups_host *host, bool unified)
{
    struct cgroup *cg = xcalloc(1, sizeof(*cg));
    cg->unified = unified;
    cg->proc_root = xstrdup(host && host->proc_root ? host->proc_root : DEFAULT_PROC_ROOT);
    cg->hugepages_dir =
        xstrdup(host && host->hugepages_dir ? host->hugepages_dir : DEFAULT_HUGEPAGES_DIR);
    return cg;
}

static const char *host_cgroup_root(const struct cgroups_host *host)
{
    return host && host->cgroup_root ? host->cgroup_root : DEFAULT_CGROUP_ROOT;
}

/* "<base><path>" without a doubled slash for path "/". */
static char *join_path(const char *base, const char *path)
{
    return strcmp(path, "/") == 0 ? xstrdup(base) : xasprintf("%s%s", base, path);
}

/* Directory of v1 controller c for path, if both the controller's hierarchy and the directory
 * exist; NULL (not an error) otherwise. */
static int v1_controller_dir(const char *cgroup_root, enum cgroups_controller c, const char *path,
                             char **ret_dir, struct berth_error **err)
{
    *ret_dir = NULL;
    _cleanup_free_ char *mount = xasprintf("%s/%s", cgroup_root, controller_names[c]);
    _cleanup_free_ char *dir = join_path(mount, path);
    struct stat st;
    if (lstat(dir, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return err_make(err, err_kind_from_errno(errno), errno, "stat %s", dir);
    }
    *ret_dir = steal_ptr(dir);
    return 0;
}

static int check_mode(enum cgroups_mode mode, struct berth_error **err)
{
    switch (mode) {
    case CGROUPS_MODE_LEGACY:
    case CGROUPS_MODE_HYBRID:
    case CGROUPS_MODE_UNIFIED:
        return 0;
    case CGROUPS_MODE_UNAVAILABLE:
        break;
    }
    return err_make(err, ERR_FAILED_PRECONDITION, 0, "cgroups are not available on this host");
}

/* Finishes a v1 handle: hugetlb needs the host's page sizes, and at least one controller must be
 * in use. */
static int v1_finish(struct cgroup *cg, const char *what, struct berth_error **err)
{
    if (cg->dir[CGROUPS_HUGETLB]) {
        cg->hugetlb_sizes = cg_hugepage_sizes(cg->hugepages_dir, false);
        if (!cg->hugetlb_sizes)
            cg->dir[CGROUPS_HUGETLB] = (free(cg->dir[CGROUPS_HUGETLB]), NULL);
    }
    for (size_t i = 0; i < CGROUPS_CONTROLLER_COUNT; i++)
        if (cg->dir[i])
            return 0;
    return err_make(err, ERR_NOT_FOUND, 0, "%s: cgroup deleted", what);
}

static int v2_finish(struct cgroup *cg, const char *cgroup_root, const char *path,
                     struct berth_error **err)
{
    cg->group_dir = join_path(cgroup_root, path);
    struct stat st;
    if (stat(cg->group_dir, &st) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "cgroup %s", cg->group_dir);
    if (!S_ISDIR(st.st_mode))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "cgroup %s: not a directory", cg->group_dir);
    cg->hugetlb_sizes = cg_hugepage_sizes(cg->hugepages_dir, true);
    return 0;
}

int cgroups_open_path(const struct cgroups_host *host, enum cgroups_mode mode, const char *path,
                      struct cgroup **ret_cgroup, struct berth_error **err)
{
    if (check_mode(mode, err) < 0)
        return -1;
    if (!path || !cg_path_is_clean(path))
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "cgroup path \"%s\" must be absolute and clean", path ? path : "");
    const char *root = host_cgroup_root(host);
    _cleanup_cgroup_ struct cgroup *cg = cgroup_new(host, mode == CGROUPS_MODE_UNIFIED);
    if (cg->unified) {
        if (v2_finish(cg, root, path, err) < 0)
            return -1;
    } else {
        for (size_t c = 0; c < CGROUPS_CONTROLLER_COUNT; c++)
            if (v1_controller_dir(root, c, path, &cg->dir[c], err) < 0)
                return -1;
        if (v1_finish(cg, path, err) < 0)
            return -1;
    }
    *ret_cgroup = steal_ptr(cg);
    return 0;
}

static bool list_has(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; p;) {
        const char *comma = strchr(p, ',');
        size_t plen = comma ? (size_t)(comma - p) : strlen(p);
        if (plen == len && memcmp(p, name, len) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

/* The path of v1 controller c from /proc/<pid>/cgroup, relative to the root of the controller's
 * mount (not "/" inside a cgroup namespace or a bind-mounted subtree). */
static char *v1_relative_path(const struct cg_proc_entry *entries, size_t n, const char *mountinfo,
                              const char *controller)
{
    _cleanup_free_ char *named = xasprintf("name=%s", controller);
    const char *path = NULL, *option = NULL;
    for (size_t i = 0; i < n && !path; i++) {
        if (list_has(entries[i].controllers, controller))
            path = entries[i].path, option = controller;
        else if (list_has(entries[i].controllers, named))
            path = entries[i].path, option = named;
    }
    if (!path)
        return NULL;
    _cleanup_free_ char *root = cg_mountinfo_cgroup_root(mountinfo, option);
    if (!root)
        return NULL;
    size_t root_len = strcmp(root, "/") == 0 ? 0 : strlen(root);
    if (strncmp(path, root, root_len) == 0 && (path[root_len] == '/' || path[root_len] == '\0'))
        path += root_len;
    return xstrdup(path[0] ? path : "/");
}

int cgroups_open_pid(const struct cgroups_host *host, enum cgroups_mode mode, pid_t pid,
                     struct cgroup **ret_cgroup, struct berth_error **err)
{
    if (check_mode(mode, err) < 0)
        return -1;
    if (pid <= 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid pid %d", (int)pid);
    const char *root = host_cgroup_root(host);
    _cleanup_cgroup_ struct cgroup *cg = cgroup_new(host, mode == CGROUPS_MODE_UNIFIED);
    _cleanup_free_ char *file = xasprintf("%s/%d/cgroup", cg->proc_root, (int)pid);
    _cleanup_free_ char *text = NULL;
    if (cg_read_file(file, &text, err) < 0)
        return err_wrap(err, "cgroup of process %d", (int)pid);
    struct cg_proc_entry *entries = NULL;
    size_t n = 0;
    if (cg_parse_proc_cgroup(text, &entries, &n, err) < 0)
        return err_wrap(err, "parse %s", file);

    int r = 0;
    if (cg->unified) {
        const char *path = NULL;
        for (size_t i = 0; i < n && !path; i++)
            if (entries[i].controllers[0] == '\0')
                path = entries[i].path;
        if (!path)
            r = err_make(err, ERR_NOT_FOUND, 0, "%s: cgroup path not found", file);
        else if (!cg_path_is_clean(path))
            r = err_make(err, ERR_INVALID_ARGUMENT, 0, "%s: unusable cgroup path \"%s\"", file,
                         path);
        else
            r = v2_finish(cg, root, path, err);
    } else {
        _cleanup_free_ char *mountinfo_file = xasprintf("%s/self/mountinfo", cg->proc_root);
        _cleanup_free_ char *mountinfo = NULL;
        r = cg_read_file(mountinfo_file, &mountinfo, err);
        for (size_t c = 0; r == 0 && c < CGROUPS_CONTROLLER_COUNT; c++) {
            _cleanup_free_ char *path =
                v1_relative_path(entries, n, mountinfo, controller_names[c]);
            if (!path)
                continue;
            if (!cg_path_is_clean(path))
                r = err_make(err, ERR_INVALID_ARGUMENT, 0, "%s: unusable %s path \"%s\"", file,
                             controller_names[c], path);
            else
                r = v1_controller_dir(root, c, path, &cg->dir[c], err);
        }
        if (r == 0) {
            _cleanup_free_ char *what = xasprintf("process %d", (int)pid);
            r = v1_finish(cg, what, err);
        }
    }
    cg_proc_entries_free(entries, n);
    if (r < 0)
        return -1;
    *ret_cgroup = steal_ptr(cg);
    return 0;
}
