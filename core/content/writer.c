/* Writers: one resumable, locked write transaction per ref, committed by verified rename. */
#include "core/content/content-internal.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct content_writer {
    struct content_store *store;
    char *ref;
    char *path; /* the ingest directory */
    int fd;     /* the data file; -1 once committed or closed */
    int64_t offset;
    int64_t total;
    char expected[DIGEST_STRING_SIZE];
    struct digester *digester;
    struct timespec started_at;
    struct timespec updated_at;
};

static struct content_writer *writer_free(struct content_writer *w)
{
    if (!w)
        return NULL;
    if (w->fd >= 0)
        close(w->fd);
    digester_free(w->digester);
    free(w->ref);
    free(w->path);
    free(w);
    return NULL;
}

static void writer_freep(struct content_writer **w)
{
    writer_free(*w);
}

/* Continues from an ingest's recorded status: the ref must be ours, the total must agree. */
static int resume_from(struct content_writer *w, const struct content_status *status, int64_t total,
                       struct berth_error **err)
{
    if (strcmp(status->ref, w->ref) != 0) /* layout corruption or a hash collision of the key */
        return err_make(err, ERR_UNKNOWN, 0, "ref key does not match: %s != %s", w->ref,
                        status->ref);
    if (total > 0 && status->total > 0 && total != status->total)
        return err_make(err, ERR_UNKNOWN, 0,
                        "provided total differs from status: %" PRId64 " != %" PRId64, total,
                        status->total);
    _cleanup_free_ char *data = xasprintf("%s/data", w->path);
    _cleanup_close_ int fd = open(data, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "open %s", data);
    /* The digest state is rebuilt by hashing the data again. */
    if (digester_update_fd(w->digester, fd, &w->offset, err) < 0) {
        digester_reset(w->digester);
        w->offset = 0;
        return -1;
    }
    w->fd = steal_fd(fd);
    w->started_at = status->started_at;
    w->updated_at = status->updated_at;
    w->total = status->total;
    if (w->total == 0 && total > 0) {
        /* Now known: recorded so the ingest's status shows it (containerd would keep 0). */
        char text[32];
        int n = snprintf(text, sizeof(text), "%" PRId64, total);
        _cleanup_free_ char *total_path = xasprintf("%s/total", w->path);
        if (content_write_file(total_path, text, (size_t)n, NULL) == 0)
            w->total = total;
    }
    return 0;
}

/* Picks up an existing ingest; on failure the caller starts it afresh. */
static int resume(struct content_writer *w, int64_t total, struct berth_error **err)
{
    struct content_status status;
    if (content_read_status(w->path, &status, err) < 0)
        return err_wrap(err, "failed reading status of resume write");
    int r = resume_from(w, &status, total, err);
    content_status_clear(&status);
    return r;
}

/* Lays out a new ingest directory (or one whose content could not be resumed). */
static int start(struct content_writer *w, int64_t total, struct berth_error **err)
{
    w->started_at = w->updated_at = content_now();
    w->total = total;
    w->offset = 0;
    _cleanup_free_ char *ref_path = xasprintf("%s/ref", w->path);
    _cleanup_free_ char *started_path = xasprintf("%s/startedat", w->path);
    _cleanup_free_ char *updated_path = xasprintf("%s/updatedat", w->path);
    _cleanup_free_ char *total_path = xasprintf("%s/total", w->path);
    _cleanup_free_ char *data = xasprintf("%s/data", w->path);
    if (content_write_file(ref_path, w->ref, strlen(w->ref), err) < 0 ||
        content_write_timestamp(started_path, &w->started_at, err) < 0 ||
        content_write_timestamp(updated_path, &w->started_at, err) < 0)
        return -1;
    if (total > 0) {
        char text[32];
        int n = snprintf(text, sizeof(text), "%" PRId64, total);
        if (content_write_file(total_path, text, (size_t)n, err) < 0)
            return -1;
    } else if (unlink(total_path) < 0 && errno != ENOENT) {
        return err_make(err, err_kind_from_errno(errno), errno, "remove %s", total_path);
    }
    /* Truncated: stale bytes past what is hashed must never reach a blob. */
    w->fd = open(data, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, CONTENT_FILE_MODE);
    if (w->fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "failed to open data file");
    return 0;
}

static int writer_setup(struct content_writer *w, int64_t total, const char *expected,
                        struct berth_error **err)
{
    if (expected && expected[0]) {
        _cleanup_free_ char *blob = NULL;
        if (content_blob_path(w->store, expected, "calculating expected blob path for writer",
                              &blob, err) < 0)
            return -1;
        if (access(blob, F_OK) == 0)
            return err_make(err, ERR_ALREADY_EXISTS, 0, "content %s", expected);
        snprintf(w->expected, sizeof(w->expected), "%s", expected);
    }
    if (digester_new(DIGEST_CANONICAL, &w->digester, err) < 0)
        return -1;
    /* ingest/ may have been removed under us (containerd creates it on first use). */
    if (mkdir(w->store->ingest_dir, CONTENT_DIR_MODE) < 0 && errno != EEXIST)
        return err_make(err, err_kind_from_errno(errno), errno, "mkdir %s", w->store->ingest_dir);
    if (mkdir(w->path, CONTENT_DIR_MODE) < 0) {
        if (errno != EEXIST)
            return err_make(err, err_kind_from_errno(errno), errno, "mkdir %s", w->path);
        struct berth_error *resume_err = NULL;
        if (resume(w, total, &resume_err) == 0)
            return 0;
        log_debug("failed to resume the status from path %s: %s. will recreate them", w->path,
                  resume_err ? resume_err->message : "");
        err_free(resume_err);
    }
    return start(w, total, err);
}

int content_writer_open(struct content_store *store, const char *ref, int64_t total,
                        const char *expected, struct content_writer **ret, struct berth_error **err)
{
    if (content_check_ref(ref, err) < 0)
        return -1;
    if (total < 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "total %" PRId64 " must not be negative",
                        total);
    if (content_lock_ref(store, ref, err) < 0)
        return -1;
    _cleanup_(writer_freep) struct content_writer *w = xcalloc(1, sizeof(*w));
    w->store = store;
    w->fd = -1;
    w->ref = xstrdup(ref);
    w->path = content_ingest_path(store, ref);
    if (writer_setup(w, total, expected, err) < 0) {
        content_unlock_ref(store, ref);
        return -1;
    }
    *ret = steal_ptr(w); /* the lock is now held by the writer */
    return 0;
}

static int check_open(const struct content_writer *w, const char *what, struct berth_error **err)
{
    if (w->fd < 0)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot %s on closed writer", what);
    return 0;
}

int content_writer_write(struct content_writer *w, const void *data, size_t len,
                         struct berth_error **err)
{
    if (check_open(w, "write", err) < 0)
        return -1;
    if (len > (uint64_t)(INT64_MAX - w->offset))
        return err_make(err, ERR_OUT_OF_RANGE, 0, "write of %zu bytes at %" PRId64 " overflows",
                        len, w->offset);
    const char *p = data;
    size_t done = 0;
    int r = 0;
    while (done < len) {
        ssize_t n = pwrite(w->fd, p + done, len - done, (off_t)(w->offset + (int64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            r = err_make(err, err_kind_from_errno(e), e, "write %s/data", w->path);
            break;
        }
        done += (size_t)n;
    }
    /* What reached the file is hashed and counted, so offset, file and digest stay in step. */
    digester_update(w->digester, p, done);
    w->offset += (int64_t)done;
    w->updated_at = content_now();
    return r;
}

int content_writer_write_at(struct content_writer *w, int64_t offset, const void *data, size_t len,
                            struct berth_error **err)
{
    if (check_open(w, "write", err) < 0)
        return -1;
    if (offset < 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "write offset %" PRId64 " is negative",
                        offset);
    if (offset > 0 && offset != w->offset)
        return err_make(err, ERR_OUT_OF_RANGE, 0,
                        "write @%" PRId64 " must occur at current offset %" PRId64, offset,
                        w->offset);
    if (offset == 0 && w->offset > 0 && content_writer_truncate(w, 0, err) < 0)
        return err_wrap(err, "truncate failed");
    if (len == 0)
        return 0;
    return content_writer_write(w, data, len, err);
}

int content_writer_truncate(struct content_writer *w, int64_t size, struct berth_error **err)
{
    if (size != 0)
        return err_make(err, ERR_UNKNOWN, 0, "Truncate: unsupported size");
    if (check_open(w, "truncate", err) < 0)
        return -1;
    if (ftruncate(w->fd, 0) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "truncate %s/data", w->path);
    w->offset = 0;
    digester_reset(w->digester);
    return 0;
}

void content_writer_status(const struct content_writer *w, struct content_status *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->ref = xstrdup(w->ref);
    ret->offset = w->offset;
    ret->total = w->total;
    memcpy(ret->expected, w->expected, sizeof(ret->expected));
    ret->started_at = w->started_at;
    ret->updated_at = w->updated_at;
}

int content_writer_digest(struct content_writer *w, char out[DIGEST_STRING_SIZE],
                          struct berth_error **err)
{
    return digester_digest(w->digester, out, err);
}

int content_writer_sync(struct content_writer *w, struct berth_error **err)
{
    if (w->fd >= 0 && fsync(w->fd) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "sync %s/data", w->path);
    return 0;
}

/* Moves the verified, synced data file onto target without replacing anything there. */
static int publish(const char *data, const char *target)
{
    if (renameat2(AT_FDCWD, data, AT_FDCWD, target, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* File systems without RENAME_NOREPLACE: link refuses to replace too. */
    if (link(data, target) < 0)
        return -1;
    unlink(data);
    return 0;
}

static int commit(struct content_writer *w, int fd, int64_t size, const char *expected,
                  struct berth_error **err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "stat on ingest file failed");
    if (size > 0 && size != st.st_size)
        return err_make(err, ERR_FAILED_PRECONDITION, 0,
                        "unexpected commit size %" PRId64 ", expected %" PRId64,
                        (int64_t)st.st_size, size);
    if (st.st_size != w->offset)
        return err_make(err, ERR_DATA_LOSS, 0,
                        "ingest %s holds %" PRId64 " bytes, %" PRId64 " written", w->ref,
                        (int64_t)st.st_size, w->offset);
    char dgst[DIGEST_STRING_SIZE];
    if (digester_digest(w->digester, dgst, err) < 0)
        return -1;
    if (expected && expected[0] && strcmp(expected, dgst) != 0)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "unexpected commit digest %s, expected %s",
                        dgst, expected);

    _cleanup_free_ char *data = xasprintf("%s/data", w->path);
    _cleanup_free_ char *target = NULL;
    if (content_blob_path(w->store, dgst, "calculating blob path", &target, err) < 0)
        return -1;
    _cleanup_free_ char *dir = xstrndup(target, (size_t)(strrchr(target, '/') - target));
    if (mkdir(dir, CONTENT_DIR_MODE) < 0 && errno != EEXIST)
        return err_make(err, err_kind_from_errno(errno), errno, "mkdir %s", dir);
    if (access(target, F_OK) == 0) {
        if (content_remove_tree(w->path) < 0)
            log_warn("failed to remove ingest directory %s: %s", w->path, strerror(errno));
        return err_make(err, ERR_ALREADY_EXISTS, 0, "content %s", dgst);
    }

    /*
     * Read-only and stamped with the commit time before the rename, then synced once: the blob
     * path never shows anything but complete, verified, durable data.
     */
    struct timespec now = content_now();
    struct timespec times[2] = {now, now};
    if (fchmod(fd, (st.st_mode & 0777) & ~0333) < 0 || futimens(fd, times) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "set mode and times of %s", data);
    if (fsync(fd) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "sync failed");
    if (publish(data, target) < 0) {
        if (errno == EEXIST) {
            if (content_remove_tree(w->path) < 0)
                log_warn("failed to remove ingest directory %s: %s", w->path, strerror(errno));
            return err_make(err, ERR_ALREADY_EXISTS, 0, "content %s", dgst);
        }
        return err_make(err, err_kind_from_errno(errno), errno, "rename %s to %s", data, target);
    }
    /* The blob is in place: what follows cannot be rolled back, so it only warns. */
    struct berth_error *sync_err = NULL;
    if (content_sync_dir(dir, &sync_err) < 0)
        log_warn("%s", sync_err->message);
    err_free(sync_err);
    if (content_remove_tree(w->path) < 0)
        log_warn("failed to remove ingest directory %s: %s", w->path, strerror(errno));
    return 0;
}

int content_writer_commit(struct content_writer *w, int64_t size, const char *expected,
                          struct berth_error **err)
{
    if (check_open(w, "commit", err) < 0)
        return -1;
    /* Whatever happens next, the writer is done and its ref free again, as containerd's. */
    _cleanup_close_ int fd = steal_fd(w->fd);
    int r;
    if (size < 0)
        r = err_make(err, ERR_INVALID_ARGUMENT, 0, "commit size %" PRId64 " must not be negative",
                     size);
    else
        r = commit(w, fd, size, expected, err);
    content_unlock_ref(w->store, w->ref);
    return r;
}

struct content_writer *content_writer_close(struct content_writer *w)
{
    if (!w)
        return NULL;
    if (w->fd >= 0) {
        /* Kept for a later writer of the same ref to resume. */
        fsync(w->fd);
        close(w->fd);
        w->fd = -1;
        _cleanup_free_ char *updated = xasprintf("%s/updatedat", w->path);
        content_write_timestamp(updated, &w->updated_at, NULL);
        content_unlock_ref(w->store, w->ref);
    }
    return writer_free(w);
}
