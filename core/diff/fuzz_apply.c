/* libFuzzer target: any bytes apply or fail with an error, and nothing lands outside root. */
#include "core/diff/diff-internal.h"
#include "core/diff/test_layers.h"

#include "lib/base/alloc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *base, *root;

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz-apply: %s\n", what);
    abort();
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    check(d != NULL, "cannot list a directory");
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void empty_root(void)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    check(fd >= 0, "cannot open root");
    DIR *d = fdopendir(fd);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            diff_remove_all_at(fd, de->d_name);
    closedir(d);
}

static void cleanup(void)
{
    test_rm_rf(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base) {
        base = test_mkdtemp("fuzz");
        root = xasprintf("%s/root", base);
        _cleanup_free_ char *sentinel = xasprintf("%s/sentinel", base);
        check(mkdir(root, 0755) == 0 && mkdir(sentinel, 0755) == 0, "cannot make test dirs");
        atexit(cleanup);
    }
    static const struct apply_options options[] = {
        {.whiteouts = DIFF_WHITEOUT_NATIVE, .max_entries = 256},
        {.whiteouts = DIFF_WHITEOUT_OVERLAY, .max_entries = 256, .no_same_owner = true},
    };
    /*
     * Decompression on its own thread for one input in 16: thread starts are costly under ASan
     * and the thread changes only where bytes are read, not how entries are judged.
     */
    static unsigned long inputs;
    bool threaded = inputs++ % 16 == 0;
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        struct berth_error *err = NULL;
        if (test_apply_inline(root, data, size, &options[i], !threaded, &err) < 0) {
            check(err && err->message && *err->message, "failure without an error");
            err_free(err);
        }
        _cleanup_free_ char *sentinel = xasprintf("%s/sentinel", base);
        check(count_entries(base) == 2, "something was written beside root");
        check(count_entries(sentinel) == 0, "something was written into the sentinel");
        empty_root();
    }
    return 0;
}
