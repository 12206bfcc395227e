/* The content store: opening, paths, ref locks, and the committed blobs (info, read, delete, walk).
 */
#include "core/content/content-internal.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct content_reader {
    int fd;
    int64_t size;
};

int content_store_open(const char *root, struct content_store **ret, struct berth_error **err)
{
    if (!root || !root[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "content store root must not be empty");
    _cleanup_free_ char *blobs = xasprintf("%s/blobs", root);
    _cleanup_free_ char *ingest = xasprintf("%s/ingest", root);
    if (fs_mkdir_p(root, CONTENT_DIR_MODE, err) < 0 ||
        fs_mkdir_p(blobs, CONTENT_DIR_MODE, err) < 0 ||
        fs_mkdir_p(ingest, CONTENT_DIR_MODE, err) < 0)
        return err_wrap(err, "content store %s", root);
    struct content_store *store = xcalloc(1, sizeof(*store));
    store->root = xstrdup(root);
    store->blobs_dir = steal_ptr(blobs);
    store->ingest_dir = steal_ptr(ingest);
    pthread_mutex_init(&store->locks_mutex, NULL);
    *ret = store;
    return 0;
}

struct content_store *content_store_close(struct content_store *store)
{
    if (!store)
        return NULL;
    while (store->locks) {
        struct ref_lock *l = store->locks;
        store->locks = l->next;
        free(l->ref);
        free(l);
    }
    pthread_mutex_destroy(&store->locks_mutex);
    free(store->root);
    free(store->blobs_dir);
    free(store->ingest_dir);
    free(store);
    return NULL;
}

const char *content_store_root(const struct content_store *store)
{
    return store->root;
}

void content_status_clear(struct content_status *status)
{
    if (!status)
        return;
    free(status->ref);
    memset(status, 0, sizeof(*status));
}

int content_check_ref(const char *ref, struct berth_error **err)
{
    if (!ref || !ref[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "ref must not be empty");
    size_t len = strnlen(ref, CONTENT_REF_MAX + 1);
    if (len > CONTENT_REF_MAX)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "ref is longer than %d bytes",
                        CONTENT_REF_MAX);
    return 0;
}

char *content_ingest_path(const struct content_store *store, const char *ref)
{
    /* The ref's digest keeps ingest paths of constant length and free of anything the ref holds. */
    char dgst[DIGEST_STRING_SIZE];
    if (digest_from_bytes(DIGEST_CANONICAL, ref, strlen(ref), dgst, NULL) < 0)
        abort(); /* sha256 is always there; a libcrypto that cannot hash is unusable */
    return xasprintf("%s/%s", store->ingest_dir, strchr(dgst, ':') + 1);
}

int content_blob_path(const struct content_store *store, const char *digest, const char *context,
                      char **ret_path, struct berth_error **err)
{
    enum digest_algorithm algorithm;
    const char *encoded;
    const char *reason = digest_check(digest);
    if (reason)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "%s: cannot calculate blob path from invalid digest: %s", context, reason);
    digest_parse(digest, &algorithm, &encoded, NULL);
    *ret_path = xasprintf("%s/%s/%s", store->blobs_dir, digest_algorithm_name(algorithm), encoded);
    return 0;
}

/* ---- ref locks ---- */

int content_lock_ref(struct content_store *store, const char *ref, struct berth_error **err)
{
    struct timespec now = content_now();
    pthread_mutex_lock(&store->locks_mutex);
    for (struct ref_lock *l = store->locks; l; l = l->next) {
        if (strcmp(l->ref, ref) != 0)
            continue;
        /* How long it has been held tells a dead lock from contention. */
        int64_t held = (int64_t)(now.tv_sec - l->since.tv_sec) * 1000000000LL +
                       (now.tv_nsec - l->since.tv_nsec);
        char duration[40], since[CONTENT_TIMESTAMP_SIZE];
        content_format_duration(held, duration);
        content_format_time(&l->since, since);
        pthread_mutex_unlock(&store->locks_mutex);
        return err_make(err, ERR_UNAVAILABLE, 0, "ref %s locked for %s (since %s)", ref, duration,
                        since);
    }
    struct ref_lock *l = xcalloc(1, sizeof(*l));
    l->ref = xstrdup(ref);
    l->since = now;
    l->next = store->locks;
    store->locks = l;
    pthread_mutex_unlock(&store->locks_mutex);
    return 0;
}

void content_unlock_ref(struct content_store *store, const char *ref)
{
    pthread_mutex_lock(&store->locks_mutex);
    for (struct ref_lock **p = &store->locks; *p; p = &(*p)->next) {
        if (strcmp((*p)->ref, ref) == 0) {
            struct ref_lock *l = *p;
            *p = l->next;
            free(l->ref);
            free(l);
            break;
        }
    }
    pthread_mutex_unlock(&store->locks_mutex);
}

/* ---- blobs ---- */

static void info_from_stat(const char *digest, const struct stat *st, struct content_info *ret)
{
    memset(ret, 0, sizeof(*ret));
    snprintf(ret->digest, sizeof(ret->digest), "%s", digest);
    ret->size = st->st_size;
    ret->created_at = st->st_mtim;
    ret->updated_at = st->st_atim;
}

int content_info(struct content_store *store, const char *digest, struct content_info *ret,
                 struct berth_error **err)
{
    _cleanup_free_ char *path = NULL;
    if (content_blob_path(store, digest, "calculating blob info path", &path, err) < 0)
        return -1;
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return err_make(err, ERR_NOT_FOUND, 0, "content %s", digest);
        return err_make(err, err_kind_from_errno(errno), errno, "stat %s", path);
    }
    info_from_stat(digest, &st, ret);
    return 0;
}

int content_delete(struct content_store *store, const char *digest, struct berth_error **err)
{
    _cleanup_free_ char *path = NULL;
    if (content_blob_path(store, digest, "calculating blob path for delete", &path, err) < 0)
        return -1;
    if (unlink(path) < 0) {
        if (errno == ENOENT)
            return err_make(err, ERR_NOT_FOUND, 0, "content %s", digest);
        if (errno != EISDIR || content_remove_tree(path) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "remove %s", path);
    }
    return 0;
}

static int walk_algorithm(struct content_store *store, enum digest_algorithm algorithm,
                          content_walk_fn fn, void *arg, struct berth_error **err)
{
    const char *name = digest_algorithm_name(algorithm);
    _cleanup_free_ char *dir = xasprintf("%s/%s", store->blobs_dir, name);
    char **names;
    size_t count;
    if (content_list_dir(dir, &names, &count, err) < 0)
        return -1;
    _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = 0;
    for (size_t i = 0; dirfd >= 0 && i < count && r == 0; i++) {
        char digest[DIGEST_STRING_SIZE];
        struct stat st;
        /* Strays that are not blobs of this algorithm are passed over, not reported. */
        if (strlen(names[i]) != 2 * digest_algorithm_size(algorithm))
            continue;
        snprintf(digest, sizeof(digest), "%s:%s", name, names[i]);
        if (digest_check(digest) || fstatat(dirfd, names[i], &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue;
        struct content_info info;
        info_from_stat(digest, &st, &info);
        r = fn(&info, arg, err);
    }
    content_free_names(names, count);
    return r;
}

int content_walk(struct content_store *store, content_walk_fn fn, void *arg,
                 struct berth_error **err)
{
    char **names;
    size_t count;
    if (content_list_dir(store->blobs_dir, &names, &count, err) < 0)
        return -1;
    int r = 0;
    for (size_t i = 0; i < count && r == 0; i++) {
        enum digest_algorithm algorithm;
        if (digest_algorithm_from_name(names[i], strlen(names[i]), &algorithm))
            r = walk_algorithm(store, algorithm, fn, arg, err);
    }
    content_free_names(names, count);
    if (r < 0)
        return err_make(err, ERR_UNKNOWN, 0, "walk callback failed"); /* keeps the callback's */
    return 0;
}

int content_reader_open(struct content_store *store, const char *digest,
                        struct content_reader **ret, struct berth_error **err)
{
    _cleanup_free_ char *path = NULL;
    if (content_blob_path(store, digest, "calculating blob path for ReaderAt", &path, err) < 0)
        return -1;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (errno == ENOENT)
            return err_make(err, ERR_NOT_FOUND, 0, "blob %s expected at %s: blob not found", digest,
                            path);
        return err_make(err, err_kind_from_errno(errno), errno, "blob %s expected at %s", digest,
                        path);
    }
    if (!S_ISREG(st.st_mode))
        return err_make(err, ERR_NOT_FOUND, 0, "blob %s expected at %s: blob not found", digest,
                        path);
    struct content_reader *reader = xcalloc(1, sizeof(*reader));
    reader->fd = steal_fd(fd);
    reader->size = st.st_size;
    *ret = reader;
    return 0;
}

int64_t content_reader_size(const struct content_reader *reader)
{
    return reader->size;
}

int content_reader_fd(const struct content_reader *reader)
{
    return reader->fd;
}

ssize_t content_reader_read_at(struct content_reader *reader, void *buf, size_t len, int64_t offset,
                               struct berth_error **err)
{
    if (offset < 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "negative read offset %lld",
                        (long long)offset);
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    if ((uint64_t)len > (uint64_t)(INT64_MAX - offset))
        len = (size_t)(INT64_MAX - offset);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(reader->fd, (char *)buf + done, len - done, (off_t)offset + (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_make(err, err_kind_from_errno(errno), errno, "read blob");
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

struct content_reader *content_reader_close(struct content_reader *reader)
{
    if (!reader)
        return NULL;
    if (reader->fd >= 0)
        close(reader->fd);
    free(reader);
    return NULL;
}
