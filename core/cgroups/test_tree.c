/* Test helpers: fake cgroupfs/procfs trees in temporary directories. */
#include "core/cgroups/test_tree.h"
#include "lib/base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

char *tree_new(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = xasprintf("%s/berth-cgtest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        fail_msg("mkdtemp %s: %s", dir, strerror(errno));
    return dir;
}

static void mkdir_parents(char *path)
{
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", path, strerror(errno));
        *p = '/';
    }
}

void tree_write(const char *root, const char *rel, const char *content)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
    mkdir_parents(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fail_msg("open %s: %s", path, strerror(errno));
    size_t len = strlen(content);
    if (write(fd, content, len) != (ssize_t)len)
        fail_msg("write %s: %s", path, strerror(errno));
    close(fd);
}

void tree_mkdir(const char *root, const char *rel)
{
    _cleanup_free_ char *path = xasprintf("%s/%s/", root, rel);
    mkdir_parents(path);
}

void tree_unlink(const char *root, const char *rel)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", root, rel);
    if (unlink(path) < 0)
        fail_msg("unlink %s: %s", path, strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

void tree_remove(const char *root)
{
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

size_t tree_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}
