/* Active ingests read from their directories: status, listing and abort. */
#include "core/content/content-internal.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/identifiers/gostring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The expected size, if recorded: a missing or unreadable "total" file means unknown (0). */
static int64_t read_total(const char *ingest_path)
{
    _cleanup_free_ char *path = xasprintf("%s/total", ingest_path);
    _cleanup_free_ char *text = NULL;
    if (fs_read_small_file(path, 32, &text, NULL) < 0)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < 0)
        return 0;
    return (int64_t)v;
}

int content_read_status(const char *ingest_path, struct content_status *ret,
                        struct berth_error **err)
{
    _cleanup_free_ char *data = xasprintf("%s/data", ingest_path);
    _cleanup_free_ char *ref_path = xasprintf("%s/ref", ingest_path);
    _cleanup_free_ char *started_path = xasprintf("%s/startedat", ingest_path);
    _cleanup_free_ char *updated_path = xasprintf("%s/updatedat", ingest_path);
    struct stat st;
    if (stat(data, &st) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "stat %s", data);
    _cleanup_free_ char *ref = NULL;
    if (fs_read_small_file(ref_path, CONTENT_REF_MAX + 1, &ref, err) < 0)
        return -1;
    struct timespec started_at, updated_at;
    if (content_read_timestamp(started_path, &started_at, err) < 0)
        return err_wrap(err, "could not read startedat");
    if (content_read_timestamp(updated_path, &updated_at, err) < 0)
        return err_wrap(err, "could not read updatedat");
    /* updatedat is only written on close; the data's mtime can be more recent. */
    if (content_timespec_compare(&st.st_mtim, &updated_at) > 0)
        updated_at = st.st_mtim;
    memset(ret, 0, sizeof(*ret));
    ret->ref = steal_ptr(ref);
    ret->offset = st.st_size;
    ret->total = read_total(ingest_path);
    ret->started_at = started_at;
    ret->updated_at = updated_at;
    return 0;
}

int content_status(struct content_store *store, const char *ref, struct content_status *ret,
                   struct berth_error **err)
{
    if (content_check_ref(ref, err) < 0)
        return -1;
    _cleanup_free_ char *path = content_ingest_path(store, ref);
    return content_read_status(path, ret, err);
}

int content_list_statuses(struct content_store *store, content_status_fn fn, void *arg,
                          struct berth_error **err)
{
    char **names;
    size_t count;
    if (content_list_dir(store->ingest_dir, &names, &count, err) < 0)
        return -1;
    int r = 0;
    for (size_t i = 0; i < count && r >= 0; i++) {
        _cleanup_free_ char *path = xasprintf("%s/%s", store->ingest_dir, names[i]);
        struct content_status status;
        struct berth_error *status_err = NULL;
        if (content_read_status(path, &status, &status_err) < 0) {
            /*
             * Ingests committed or aborted meanwhile, half made by a crash, strays, or with a
             * ref beyond Berth's bound: none is an ingest this store can offer.
             */
            bool vanished = status_err->kind == ERR_NOT_FOUND ||
                            status_err->kind == ERR_RESOURCE_EXHAUSTED ||
                            status_err->errno_value == ENOTDIR;
            if (!vanished) {
                if (err && !*err)
                    *err = status_err;
                else
                    err_free(status_err);
                r = -1;
                break;
            }
            err_free(status_err);
            continue;
        }
        r = fn(&status, arg, err);
        content_status_clear(&status);
        if (r > 0)
            break;
    }
    content_free_names(names, count);
    if (r < 0)
        return err_make(err, ERR_UNKNOWN, 0, "status callback failed"); /* keeps an earlier one */
    return 0;
}

int content_abort(struct content_store *store, const char *ref, struct berth_error **err)
{
    if (content_check_ref(ref, err) < 0)
        return -1;
    _cleanup_free_ char *path = content_ingest_path(store, ref);
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT) {
            _cleanup_free_ char *quoted = go_quote(ref, strlen(ref));
            return err_make(err, ERR_NOT_FOUND, 0, "ingest ref %s", quoted);
        }
        return err_make(err, err_kind_from_errno(errno), errno, "stat %s", path);
    }
    if (content_remove_tree(path) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "remove %s", path);
    return 0;
}

int content_walk_ingests(struct content_store *store, content_ingest_fn fn, void *arg,
                         struct berth_error **err)
{
    char **names;
    size_t count;
    if (content_list_dir(store->ingest_dir, &names, &count, err) < 0)
        return -1;
    int r = 0;
    for (size_t i = 0; i < count && r == 0; i++) {
        _cleanup_free_ char *path = xasprintf("%s/%s", store->ingest_dir, names[i]);
        _cleanup_free_ char *ref_path = xasprintf("%s/ref", path);
        _cleanup_free_ char *ref = NULL;
        struct stat st;
        if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (fs_read_small_file(ref_path, CONTENT_REF_MAX + 1, &ref, NULL) < 0)
            ref = NULL;
        struct timespec modified = st.st_mtim;
        r = fn(names[i], ref, &modified, arg, err);
    }
    content_free_names(names, count);
    return r < 0 ? -1 : 0;
}

int content_remove_ingest_dir(struct content_store *store, const char *dir_name,
                              struct berth_error **err)
{
    if (!dir_name[0] || strchr(dir_name, '/') || strcmp(dir_name, ".") == 0 ||
        strcmp(dir_name, "..") == 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "not an ingest directory: %s", dir_name);
    _cleanup_free_ char *path = xasprintf("%s/%s", store->ingest_dir, dir_name);
    if (content_remove_tree(path) < 0)
        return err_make(err, ERR_INTERNAL, errno, "remove ingest %s", dir_name);
    return 0;
}
