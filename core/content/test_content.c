/* Unit tests for the local content store: writes, commits, resume, locks, layout, limits. */
#include "core/content/content-internal.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define HELLO_DIGEST "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
#define EMPTY_DIGEST "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct fixture {
    char dir[64];
    struct content_store *store;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/berth-content-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    _cleanup_free_ char *root = xasprintf("%s/root", f->dir);
    assert_int_equal(content_store_open(root, &f->store, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    content_store_close(f->store);
    assert_int_equal(content_remove_tree(f->dir), 0);
    free(f);
    return 0;
}

/* Expects a failure of the given kind and message (NULL: any), then frees the error. */
static void check_error(int r, struct berth_error *e, enum err_kind kind, const char *message,
                        int line)
{
    if (r != -1 || !e)
        fail_msg("line %d: no error (%d)", line, r);
    if (e->kind != kind)
        fail_msg("line %d: kind %d, want %d: %s", line, e->kind, kind, e->message);
    if (message && strcmp(e->message, message) != 0)
        fail_msg("line %d: message \"%s\", want \"%s\"", line, e->message, message);
    err_free(e);
}

#define assert_error(call, kind, message)                                                          \
    do {                                                                                           \
        struct berth_error *e_ = NULL;                                                             \
        struct berth_error **err = &e_;                                                            \
        int r_ = (call);                                                                           \
        check_error(r_, e_, (kind), (message), __LINE__);                                          \
    } while (0)

static void path_of(struct fixture *f, const char *rel, char out[512])
{
    snprintf(out, 512, "%s/%s", content_store_root(f->store), rel);
}

static bool exists(struct fixture *f, const char *rel)
{
    char path[512];
    path_of(f, rel, path);
    return access(path, F_OK) == 0;
}

static void write_blob(struct fixture *f, const char *ref, const char *data,
                       char out[DIGEST_STRING_SIZE])
{
    struct content_writer *w;
    assert_int_equal(content_writer_open(f->store, ref, 0, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, data, strlen(data), NULL), 0);
    assert_int_equal(content_writer_digest(w, out, NULL), 0);
    assert_int_equal(content_writer_commit(w, (int64_t)strlen(data), out, NULL), 0);
    content_writer_close(w);
}

static void test_write_commit_read(void **state)
{
    struct fixture *f = *state;
    struct content_writer *w;
    struct timespec before = content_now();
    assert_int_equal(content_writer_open(f->store, "hello-ref", 11, HELLO_DIGEST, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "hello ", 6, NULL), 0);
    assert_int_equal(content_writer_write(w, "world", 5, NULL), 0);

    struct content_status st;
    content_writer_status(w, &st);
    assert_string_equal(st.ref, "hello-ref");
    assert_int_equal(st.offset, 11);
    assert_int_equal(st.total, 11);
    assert_string_equal(st.expected, HELLO_DIGEST);
    assert_true(content_timespec_compare(&st.started_at, &before) >= 0);
    assert_true(content_timespec_compare(&st.updated_at, &st.started_at) >= 0);
    content_status_clear(&st);

    /* While active, the ingest is on disk under the sha256 of its ref. */
    char key[DIGEST_STRING_SIZE], rel[256], path[512];
    assert_int_equal(digest_from_bytes(DIGEST_SHA256, "hello-ref", 9, key, NULL), 0);
    snprintf(rel, sizeof(rel), "ingest/%s/data", key + 7);
    assert_true(exists(f, rel));

    char dgst[DIGEST_STRING_SIZE];
    assert_int_equal(content_writer_digest(w, dgst, NULL), 0);
    assert_string_equal(dgst, HELLO_DIGEST);
    assert_int_equal(content_writer_commit(w, 11, HELLO_DIGEST, NULL), 0);
    /* Committed: only close is left. */
    assert_error(content_writer_write(w, "x", 1, err), ERR_FAILED_PRECONDITION,
                 "cannot write on closed writer: failed precondition");
    assert_error(content_writer_commit(w, 0, NULL, err), ERR_FAILED_PRECONDITION,
                 "cannot commit on closed writer: failed precondition");
    content_writer_close(w);
    snprintf(rel, sizeof(rel), "ingest/%s", key + 7);
    assert_false(exists(f, rel));
    assert_error(content_status(f->store, "hello-ref", &st, err), ERR_NOT_FOUND, NULL);

    /* The blob: containerd's path, read-only, created at commit. */
    path_of(f, "blobs/sha256/b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
            path);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0444);
    struct content_info info;
    assert_int_equal(content_info(f->store, HELLO_DIGEST, &info, NULL), 0);
    assert_string_equal(info.digest, HELLO_DIGEST);
    assert_int_equal(info.size, 11);
    assert_true(content_timespec_compare(&info.created_at, &before) >= 0);

    struct content_reader *r;
    assert_int_equal(content_reader_open(f->store, HELLO_DIGEST, &r, NULL), 0);
    assert_int_equal(content_reader_size(r), 11);
    assert_true(content_reader_fd(r) >= 0);
    char buf[32] = "";
    assert_int_equal(content_reader_read_at(r, buf, sizeof(buf), 0, NULL), 11);
    assert_memory_equal(buf, "hello world", 11);
    assert_int_equal(content_reader_read_at(r, buf, 3, 6, NULL), 3);
    assert_memory_equal(buf, "wor", 3);
    assert_int_equal(content_reader_read_at(r, buf, 3, 11, NULL), 0);
    assert_int_equal(content_reader_read_at(r, buf, 3, 100, NULL), 0);
    assert_error(content_reader_read_at(r, buf, 3, -1, err), ERR_INVALID_ARGUMENT, NULL);
    assert_null(content_reader_close(r));
}

static void test_commit_mismatch(void **state)
{
    struct fixture *f = *state;
    struct content_writer *w;
    /* Wrong digest. */
    assert_int_equal(content_writer_open(f->store, "bad-digest", 0, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "hello world", 11, NULL), 0);
    assert_error(content_writer_commit(w, 11, EMPTY_DIGEST, err), ERR_FAILED_PRECONDITION,
                 "unexpected commit digest " HELLO_DIGEST ", expected " EMPTY_DIGEST
                 ": failed precondition");
    content_writer_close(w);
    assert_error(content_info(f->store, HELLO_DIGEST, &(struct content_info){0}, err),
                 ERR_NOT_FOUND, "content " HELLO_DIGEST ": not found");
    /* The ingest stays, for a retry or an abort; its lock is free. */
    struct content_status st;
    assert_int_equal(content_status(f->store, "bad-digest", &st, NULL), 0);
    assert_int_equal(st.offset, 11);
    content_status_clear(&st);
    assert_int_equal(content_abort(f->store, "bad-digest", NULL), 0);

    /* Wrong size. */
    assert_int_equal(content_writer_open(f->store, "bad-size", 0, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "hello world", 11, NULL), 0);
    assert_error(content_writer_commit(w, 12, NULL, err), ERR_FAILED_PRECONDITION,
                 "unexpected commit size 11, expected 12: failed precondition");
    content_writer_close(w);

    /* A short write against the declared total and digest. */
    assert_int_equal(content_writer_open(f->store, "short", 11, HELLO_DIGEST, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "hello", 5, NULL), 0);
    assert_error(content_writer_commit(w, 11, HELLO_DIGEST, err), ERR_FAILED_PRECONDITION,
                 "unexpected commit size 5, expected 11: failed precondition");
    content_writer_close(w);
    assert_error(content_info(f->store, HELLO_DIGEST, &(struct content_info){0}, err),
                 ERR_NOT_FOUND, NULL);

    /* No expectations at all: committed under whatever digest the data has. */
    assert_int_equal(content_writer_open(f->store, "short", 0, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_commit(w, 0, "", NULL), 0);
    content_writer_close(w);
    assert_int_equal(content_info(f->store,
                                  "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e7"
                                  "3043362938b9824",
                                  &(struct content_info){0}, NULL),
                     0);
    assert_error(content_writer_open(f->store, "neg", -1, NULL, &w, err), ERR_INVALID_ARGUMENT,
                 NULL);
}

static void test_resume(void **state)
{
    struct fixture *f = *state;
    struct content_writer *w;
    assert_int_equal(content_writer_open(f->store, "resume", 11, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "hello ", 6, NULL), 0);
    struct content_status first;
    content_writer_status(w, &first);
    content_writer_close(w);

    struct content_status st;
    assert_int_equal(content_status(f->store, "resume", &st, NULL), 0);
    assert_string_equal(st.ref, "resume");
    assert_int_equal(st.offset, 6);
    assert_int_equal(st.total, 11);
    assert_int_equal(content_timespec_compare(&st.started_at, &first.started_at), 0);
    content_status_clear(&st);

    assert_int_equal(content_writer_open(f->store, "resume", 0, HELLO_DIGEST, &w, NULL), 0);
    content_writer_status(w, &st);
    assert_int_equal(st.offset, 6);
    assert_int_equal(st.total, 11);
    assert_int_equal(content_timespec_compare(&st.started_at, &first.started_at), 0);
    content_status_clear(&st);
    content_status_clear(&first);
    assert_int_equal(content_writer_write(w, "world", 5, NULL), 0);
    assert_int_equal(content_writer_commit(w, 11, HELLO_DIGEST, NULL), 0);
    content_writer_close(w);
    assert_int_equal(content_info(f->store, HELLO_DIGEST, &(struct content_info){0}, NULL), 0);

    /* A different total than recorded cannot resume: the ingest starts afresh. */
    assert_int_equal(content_writer_open(f->store, "retotal", 10, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "abc", 3, NULL), 0);
    content_writer_close(w);
    assert_int_equal(content_writer_open(f->store, "retotal", 20, NULL, &w, NULL), 0);
    content_writer_status(w, &st);
    assert_int_equal(st.offset, 0);
    assert_int_equal(st.total, 20);
    content_status_clear(&st);
    char dgst[DIGEST_STRING_SIZE];
    assert_int_equal(content_writer_digest(w, dgst, NULL), 0);
    assert_string_equal(dgst, EMPTY_DIGEST);
    content_writer_close(w);
    assert_int_equal(content_status(f->store, "retotal", &st, NULL), 0);
    assert_int_equal(st.offset, 0);
    content_status_clear(&st);
}

static void test_write_at_truncate(void **state)
{
    struct fixture *f = *state;
    struct content_writer *w;
    assert_int_equal(content_writer_open(f->store, "offsets", 0, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write_at(w, 0, "junk", 4, NULL), 0);
    assert_error(content_writer_write_at(w, 2, "x", 1, err), ERR_OUT_OF_RANGE,
                 "write @2 must occur at current offset 4: out of range");
    assert_error(content_writer_write_at(w, -1, "x", 1, err), ERR_INVALID_ARGUMENT, NULL);
    /* Offset 0 on a writer holding data starts over, as the Write RPC does. */
    assert_int_equal(content_writer_write_at(w, 0, "hello ", 6, NULL), 0);
    assert_int_equal(content_writer_write_at(w, 6, "world", 5, NULL), 0);
    assert_int_equal(content_writer_write_at(w, 11, NULL, 0, NULL), 0);
    assert_error(content_writer_truncate(w, 3, err), ERR_UNKNOWN, "Truncate: unsupported size");
    char dgst[DIGEST_STRING_SIZE];
    assert_int_equal(content_writer_digest(w, dgst, NULL), 0);
    assert_string_equal(dgst, HELLO_DIGEST);
    assert_int_equal(content_writer_truncate(w, 0, NULL), 0);
    assert_int_equal(content_writer_digest(w, dgst, NULL), 0);
    assert_string_equal(dgst, EMPTY_DIGEST);
    assert_int_equal(content_writer_write(w, "hello world", 11, NULL), 0);
    assert_int_equal(content_writer_sync(w, NULL), 0);
    assert_int_equal(content_writer_commit(w, 11, HELLO_DIGEST, NULL), 0);
    content_writer_close(w);
}

static void test_locking(void **state)
{
    struct fixture *f = *state;
    struct content_writer *w, *w2 = NULL;
    assert_int_equal(content_writer_open(f->store, "locked", 0, NULL, &w, NULL), 0);
    struct berth_error *e = NULL;
    assert_int_equal(content_writer_open(f->store, "locked", 0, NULL, &w2, &e), -1);
    assert_null(w2);
    assert_int_equal(e->kind, ERR_UNAVAILABLE);
    assert_true(strncmp(e->message, "ref locked locked for ", 22) == 0);
    assert_non_null(strstr(e->message, " (since "));
    assert_non_null(strstr(e->message, " +0000 UTC): unavailable"));
    err_free(e);
    /* Close releases the lock. */
    content_writer_close(w);
    assert_int_equal(content_writer_open(f->store, "locked", 0, NULL, &w, NULL), 0);
    /* So does a commit, failed or not. */
    assert_int_equal(content_writer_write(w, "x", 1, NULL), 0);
    assert_int_equal(content_writer_commit(w, 2, NULL, NULL), -1);
    assert_int_equal(content_writer_open(f->store, "locked", 0, NULL, &w2, NULL), 0);
    content_writer_close(w2);
    content_writer_close(w);
    /* A failed open does not keep the lock. */
    char dgst[DIGEST_STRING_SIZE];
    write_blob(f, "a", "abc", dgst);
    assert_error(content_writer_open(f->store, "locked", 0, dgst, &w, err), ERR_ALREADY_EXISTS,
                 NULL);
    assert_int_equal(content_writer_open(f->store, "locked", 0, NULL, &w, NULL), 0);
    content_writer_close(w);
}

struct parallel_job {
    struct content_store *store;
    int index;
    char digest[DIGEST_STRING_SIZE];
    int result;
};

static void *parallel_writer(void *arg)
{
    struct parallel_job *job = arg;
    char ref[32], data[64 * 1024];
    snprintf(ref, sizeof(ref), "parallel-%d", job->index);
    memset(data, 'a' + job->index, sizeof(data));
    struct content_writer *w;
    job->result = -1;
    if (content_writer_open(job->store, ref, 4 * (int64_t)sizeof(data), NULL, &w, NULL) < 0)
        return NULL;
    for (int i = 0; i < 4; i++)
        if (content_writer_write(w, data, sizeof(data), NULL) < 0)
            goto out;
    if (content_writer_digest(w, job->digest, NULL) < 0)
        goto out;
    job->result = content_writer_commit(w, 4 * (int64_t)sizeof(data), job->digest, NULL);
out:
    content_writer_close(w);
    return NULL;
}

static int count_blob(const struct content_info *info, void *arg, struct berth_error **err)
{
    (*(int *)arg)++;
    return 0;
}

static void test_parallel(void **state)
{
    struct fixture *f = *state;
    struct parallel_job jobs[8];
    pthread_t threads[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (struct parallel_job){.store = f->store, .index = i};
        assert_int_equal(pthread_create(&threads[i], NULL, parallel_writer, &jobs[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(jobs[i].result, 0);
        struct content_info info;
        assert_int_equal(content_info(f->store, jobs[i].digest, &info, NULL), 0);
        assert_int_equal(info.size, 256 * 1024);
    }
    int n = 0;
    assert_int_equal(content_walk(f->store, count_blob, &n, NULL), 0);
    assert_int_equal(n, 8);
}

static void test_abort(void **state)
{
    struct fixture *f = *state;
    struct content_writer *w;
    assert_int_equal(content_writer_open(f->store, "to-abort", 0, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "data", 4, NULL), 0);
    content_writer_close(w);
    assert_int_equal(content_abort(f->store, "to-abort", NULL), 0);
    struct content_status st;
    assert_error(content_status(f->store, "to-abort", &st, err), ERR_NOT_FOUND, NULL);
    assert_error(content_abort(f->store, "to-abort", err), ERR_NOT_FOUND,
                 "ingest ref \"to-abort\": not found");
    assert_error(content_abort(f->store, "", err), ERR_INVALID_ARGUMENT,
                 "ref must not be empty: invalid argument");
    /* A new write of the same ref starts from nothing. */
    assert_int_equal(content_writer_open(f->store, "to-abort", 0, NULL, &w, NULL), 0);
    content_writer_status(w, &st);
    assert_int_equal(st.offset, 0);
    content_status_clear(&st);
    content_writer_close(w);
}

static void test_already_exists(void **state)
{
    struct fixture *f = *state;
    char dgst[DIGEST_STRING_SIZE];
    write_blob(f, "first", "hello world", dgst);
    struct content_writer *w;
    assert_error(content_writer_open(f->store, "second", 11, HELLO_DIGEST, &w, err),
                 ERR_ALREADY_EXISTS, "content " HELLO_DIGEST ": already exists");
    /* Without an expectation the collision shows at commit, which removes the ingest. */
    assert_int_equal(content_writer_open(f->store, "third", 0, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "hello world", 11, NULL), 0);
    assert_error(content_writer_commit(w, 11, NULL, err), ERR_ALREADY_EXISTS,
                 "content " HELLO_DIGEST ": already exists");
    content_writer_close(w);
    struct content_status st;
    assert_error(content_status(f->store, "third", &st, err), ERR_NOT_FOUND, NULL);
    assert_error(content_writer_open(f->store, "x", 0, "sha256:abc", &w, err), ERR_INVALID_ARGUMENT,
                 "calculating expected blob path for writer: cannot calculate blob path from "
                 "invalid digest: invalid checksum digest length: invalid argument");
}

struct walk_result {
    char digests[8][DIGEST_STRING_SIZE];
    int n;
    int stop_after;
};

static int collect(const struct content_info *info, void *arg, struct berth_error **err)
{
    struct walk_result *r = arg;
    snprintf(r->digests[r->n++], DIGEST_STRING_SIZE, "%s", info->digest);
    return r->n == r->stop_after ? CONTENT_WALK_STOP : 0;
}

static int fail_walk(const struct content_info *info, void *arg, struct berth_error **err)
{
    return err_make(err, ERR_ABORTED, 0, "stop here");
}

static void test_walk_delete(void **state)
{
    struct fixture *f = *state;
    char a[DIGEST_STRING_SIZE], b[DIGEST_STRING_SIZE], c[DIGEST_STRING_SIZE], path[512];
    write_blob(f, "1", "one", a);
    write_blob(f, "2", "two", b);
    write_blob(f, "3", "three", c);
    /* Strays the walk passes over. */
    path_of(f, "blobs/sha256/not-a-digest", path);
    assert_int_equal(fs_write_file_atomic(path, "x", 1, 0644, NULL), 0);
    path_of(f, "blobs/md5", path);
    assert_int_equal(mkdir(path, 0755), 0);
    path_of(f, "blobs/md5/d41d8cd98f00b204e9800998ecf8427e", path);
    assert_int_equal(fs_write_file_atomic(path, "", 0, 0644, NULL), 0);
    path_of(f, "blobs/stray", path);
    assert_int_equal(fs_write_file_atomic(path, "", 0, 0644, NULL), 0);
    path_of(f, "blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000",
            path);
    assert_int_equal(mkdir(path, 0755), 0);

    struct walk_result r = {0};
    assert_int_equal(content_walk(f->store, collect, &r, NULL), 0);
    assert_int_equal(r.n, 3);
    const char *sorted[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (strcmp(sorted[i], sorted[j]) > 0) {
                const char *t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    for (int i = 0; i < 3; i++)
        assert_string_equal(r.digests[i], sorted[i]);
    r = (struct walk_result){.stop_after = 2};
    assert_int_equal(content_walk(f->store, collect, &r, NULL), 0);
    assert_int_equal(r.n, 2);
    assert_error(content_walk(f->store, fail_walk, NULL, err), ERR_ABORTED, "stop here: aborted");

    assert_int_equal(content_delete(f->store, b, NULL), 0);
    assert_error(content_info(f->store, b, &(struct content_info){0}, err), ERR_NOT_FOUND, NULL);
    _cleanup_free_ char *msg = xasprintf("content %s: not found", b);
    assert_error(content_delete(f->store, b, err), ERR_NOT_FOUND, msg);
    assert_error(content_delete(f->store, "sha256:zz", err), ERR_INVALID_ARGUMENT,
                 "calculating blob path for delete: cannot calculate blob path from invalid "
                 "digest: invalid checksum digest length: invalid argument");
    assert_error(content_info(f->store, "nope", &(struct content_info){0}, err),
                 ERR_INVALID_ARGUMENT,
                 "calculating blob info path: cannot calculate blob path from invalid digest: "
                 "invalid checksum digest format: invalid argument");
    struct content_reader *rd;
    msg = (free(msg), NULL);
    path_of(f, "blobs/sha256/", path);
    msg = xasprintf("blob %s expected at %s%s: blob not found: not found", b, path, b + 7);
    assert_error(content_reader_open(f->store, b, &rd, err), ERR_NOT_FOUND, msg);
    r = (struct walk_result){0};
    assert_int_equal(content_walk(f->store, collect, &r, NULL), 0);
    assert_int_equal(r.n, 2);
}

struct status_list {
    char refs[4][64];
    int64_t offsets[4];
    int64_t totals[4];
    int n;
};

static int collect_status(const struct content_status *st, void *arg, struct berth_error **err)
{
    struct status_list *l = arg;
    snprintf(l->refs[l->n], sizeof(l->refs[0]), "%s", st->ref);
    l->offsets[l->n] = st->offset;
    l->totals[l->n++] = st->total;
    return 0;
}

static void test_statuses(void **state)
{
    struct fixture *f = *state;
    struct content_writer *w1, *w2;
    assert_int_equal(content_writer_open(f->store, "alpha", 100, NULL, &w1, NULL), 0);
    assert_int_equal(content_writer_write(w1, "abc", 3, NULL), 0);
    assert_int_equal(content_writer_open(f->store, "beta", 0, NULL, &w2, NULL), 0);
    content_writer_close(w2);
    /* Half-made ingests (a crash before data was created) and strays are skipped. */
    char path[512];
    path_of(f, "ingest/0123", path);
    assert_int_equal(mkdir(path, 0755), 0);
    path_of(f, "ingest/stray-file", path);
    assert_int_equal(fs_write_file_atomic(path, "", 0, 0644, NULL), 0);

    struct status_list l = {0};
    assert_int_equal(content_list_statuses(f->store, collect_status, &l, NULL), 0);
    assert_int_equal(l.n, 2);
    int alpha = strcmp(l.refs[0], "alpha") == 0 ? 0 : 1;
    assert_string_equal(l.refs[alpha], "alpha");
    assert_string_equal(l.refs[1 - alpha], "beta");
    assert_int_equal(l.offsets[alpha], 3);
    assert_int_equal(l.totals[alpha], 100);
    assert_int_equal(l.offsets[1 - alpha], 0);
    assert_int_equal(l.totals[1 - alpha], 0);
    content_writer_close(w1);
}

/* Refs are hashed: whatever they hold, the ingest stays a fixed-name dir under ingest/. */
static void test_hostile_refs(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *longest = xmalloc(CONTENT_REF_MAX + 2);
    memset(longest, '/', CONTENT_REF_MAX + 1);
    longest[CONTENT_REF_MAX] = '\0';
    const char *refs[] = {
        "../../../../etc/passwd",     "/absolute", "a/../../b", "line\nbreak", "..",
        "default/1/layer-sha256:abc", longest};
    for (size_t i = 0; i < ARRAY_SIZE(refs); i++) {
        struct content_writer *w;
        assert_int_equal(content_writer_open(f->store, refs[i], 0, NULL, &w, NULL), 0);
        assert_int_equal(content_writer_write(w, "x", 1, NULL), 0);
        content_writer_close(w);
        char key[DIGEST_STRING_SIZE], rel[256];
        digest_from_bytes(DIGEST_SHA256, refs[i], strlen(refs[i]), key, NULL);
        snprintf(rel, sizeof(rel), "ingest/%s/ref", key + 7);
        char path[512];
        path_of(f, rel, path);
        _cleanup_free_ char *stored = NULL;
        assert_int_equal(fs_read_small_file(path, CONTENT_REF_MAX + 1, &stored, NULL), 0);
        assert_string_equal(stored, refs[i]);
        struct content_status st;
        assert_int_equal(content_status(f->store, refs[i], &st, NULL), 0);
        assert_string_equal(st.ref, refs[i]);
        content_status_clear(&st);
        assert_int_equal(content_abort(f->store, refs[i], NULL), 0);
    }
    longest[CONTENT_REF_MAX] = '/';
    longest[CONTENT_REF_MAX + 1] = '\0';
    struct content_writer *w;
    assert_error(content_writer_open(f->store, longest, 0, NULL, &w, err), ERR_INVALID_ARGUMENT,
                 "ref is longer than 4096 bytes: invalid argument");
    assert_error(content_writer_open(f->store, "", 0, NULL, &w, err), ERR_INVALID_ARGUMENT,
                 "ref must not be empty: invalid argument");
    /* Nothing escaped: the root holds only blobs/ and ingest/, and ingest/ is empty. */
    char **names;
    size_t count;
    assert_int_equal(content_list_dir(content_store_root(f->store), &names, &count, NULL), 0);
    assert_int_equal(count, 2);
    content_free_names(names, count);
    char path[512];
    path_of(f, "ingest", path);
    assert_int_equal(content_list_dir(path, &names, &count, NULL), 0);
    assert_int_equal(count, 0);
    content_free_names(names, count);
}

/* An ingest as containerd leaves it (Go timestamps with a zone offset) resumes here. */
static void test_containerd_layout(void **state)
{
    struct fixture *f = *state;
    const char *ref = "default/3/layer-sha256:b94d27b9";
    char key[DIGEST_STRING_SIZE], path[512], rel[256];
    digest_from_bytes(DIGEST_SHA256, ref, strlen(ref), key, NULL);
    snprintf(rel, sizeof(rel), "ingest/%s", key + 7);
    path_of(f, rel, path);
    assert_int_equal(mkdir(path, 0755), 0);
    struct {
        const char *name, *text;
    } files[] = {{"ref", ref},
                 {"data", "hello "},
                 {"startedat", "2024-05-01T14:34:56.123456789+02:00"},
                 {"updatedat", "2024-05-01T12:35:00Z"},
                 {"total", "11"}};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *p = xasprintf("%s/%s", path, files[i].name);
        assert_int_equal(fs_write_file_atomic(p, files[i].text, strlen(files[i].text), 0644, NULL),
                         0);
    }
    struct content_writer *w;
    assert_int_equal(content_writer_open(f->store, ref, 11, HELLO_DIGEST, &w, NULL), 0);
    struct content_status st;
    content_writer_status(w, &st);
    assert_int_equal(st.offset, 6);
    assert_int_equal(st.total, 11);
    assert_int_equal(st.started_at.tv_sec, 1714566896);
    assert_int_equal(st.started_at.tv_nsec, 123456789);
    content_status_clear(&st);
    content_writer_close(w);
    /* Close wrote updatedat as Go's MarshalText reads it back. */
    _cleanup_free_ char *updated_path = xasprintf("%s/updatedat", path);
    _cleanup_free_ char *updated = NULL;
    assert_int_equal(fs_read_small_file(updated_path, 64, &updated, NULL), 0);
    struct timespec ts;
    assert_true(content_parse_timestamp(updated, &ts));
    assert_non_null(strchr(updated, 'T'));
    assert_int_equal(updated[strlen(updated) - 1], 'Z');

    assert_int_equal(content_writer_open(f->store, ref, 11, HELLO_DIGEST, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "world", 5, NULL), 0);
    assert_int_equal(content_writer_commit(w, 11, HELLO_DIGEST, NULL), 0);
    content_writer_close(w);
    assert_true(exists(f, "blobs/sha256/"
                          "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"));

    /* A crash mid-layout (a ref file, no data): the next writer starts the ingest afresh. */
    digest_from_bytes(DIGEST_SHA256, "half", 4, key, NULL);
    snprintf(rel, sizeof(rel), "ingest/%s", key + 7);
    path_of(f, rel, path);
    assert_int_equal(mkdir(path, 0755), 0);
    _cleanup_free_ char *half_ref = xasprintf("%s/ref", path);
    assert_int_equal(fs_write_file_atomic(half_ref, "half", 4, 0644, NULL), 0);
    assert_int_equal(content_writer_open(f->store, "half", 0, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, "hello world", 11, NULL), 0);
    assert_int_equal(content_writer_commit(w, 11, NULL, NULL), -1); /* exists: ingest removed */
    content_writer_close(w);
    assert_false(exists(f, rel));
}

static void test_time_formats(void **state)
{
    char out[CONTENT_TIMESTAMP_SIZE];
    struct timespec ts = {1714566896, 123456789};
    content_format_timestamp(&ts, out);
    assert_string_equal(out, "2024-05-01T12:34:56.123456789Z");
    ts.tv_nsec = 120000000;
    content_format_timestamp(&ts, out);
    assert_string_equal(out, "2024-05-01T12:34:56.12Z");
    ts.tv_nsec = 0;
    content_format_timestamp(&ts, out);
    assert_string_equal(out, "2024-05-01T12:34:56Z");
    content_format_time(&ts, out);
    assert_string_equal(out, "2024-05-01 12:34:56 +0000 UTC");

    struct timespec parsed;
    assert_true(content_parse_timestamp("2024-05-01T12:34:56.12Z", &parsed));
    assert_int_equal(parsed.tv_sec, 1714566896);
    assert_int_equal(parsed.tv_nsec, 120000000);
    assert_true(content_parse_timestamp("2024-05-01T05:04:56.1234567891-07:30", &parsed));
    assert_int_equal(parsed.tv_sec, 1714566896);
    assert_int_equal(parsed.tv_nsec, 123456789);
    const char *bad[] = {"",
                         "2024-05-01",
                         "2024-05-01T12:34:56",
                         "2024-02-30T00:00:00Z",
                         "2024-05-01T12:34:56.Z",
                         "2024-05-01T12:34:56Zjunk",
                         "2024-05-01T24:00:00Z",
                         "2024-05-01T12:34:56+0200"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (content_parse_timestamp(bad[i], &parsed))
            fail_msg("parsed %s", bad[i]);

    static const struct {
        int64_t ns;
        const char *text;
    } durations[] = {
        {0, "0s"},
        {1, "1ns"},
        {1100, "1.1µs"},
        {2200000, "2.2ms"},
        {3300000000LL, "3.3s"},
        {60000000000LL, "1m0s"},
        {4000000000LL * 60 + 5000000000LL, "4m5s"},
        {3600000000000LL, "1h0m0s"},
        {3723500000000LL, "1h2m3.5s"},
        {-1500000, "-1.5ms"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(durations); i++) {
        char text[40];
        content_format_duration(durations[i].ns, text);
        assert_string_equal(text, durations[i].text);
    }
}

static void test_plugin(void **state)
{
    struct fixture *f = *state;
    struct plugin_set *set = plugin_set_new();
    plugin_set_register(set, &content_plugin);
    struct plugin_init_options options = {.root = f->dir};
    assert_int_equal(plugin_set_init(set, &options, NULL), 0);
    const struct plugin_info *info = plugin_set_find(set, PLUGIN_CONTENT, "content");
    assert_non_null(info);
    assert_int_equal(info->state, PLUGIN_STATE_OK);
    assert_non_null(info->instance);
    _cleanup_free_ char *root = xasprintf("%s/io.containerd.content.v1.content", f->dir);
    assert_int_equal(info->n_exports, 1);
    assert_string_equal(info->exports[0], "root");
    assert_string_equal(info->exports[1], root);
    assert_string_equal(content_store_root(info->instance), root);
    assert_true(access(root, F_OK) == 0);
    plugin_set_close(set);
    plugin_set_free(set);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_write_commit_read),
        T(test_commit_mismatch),
        T(test_resume),
        T(test_write_at_truncate),
        T(test_locking),
        T(test_parallel),
        T(test_abort),
        T(test_already_exists),
        T(test_walk_delete),
        T(test_statuses),
        T(test_hostile_refs),
        T(test_containerd_layout),
        T(test_time_formats),
        T(test_plugin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
