/* Test helpers for core/archive: an in-memory store behind both storage interfaces, and tars. */
#include "core/archive/test_sink.h"
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"

#include <archive.h>
#include <archive_entry.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

char *sha256_of(const void *data, size_t len)
{
    char d[DIGEST_STRING_SIZE];
    if (digest_from_bytes(DIGEST_SHA256, data, len, d, NULL) < 0)
        abort();
    return xstrdup(d);
}

/* ---- the store ---- */

struct mem_writer {
    char *expected;
    int64_t size;
    char *data;
    size_t len, capacity;
};

struct mem_store *mem_store_new(void)
{
    return xcalloc(1, sizeof(struct mem_store));
}

void mem_store_free(struct mem_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_blobs; i++) {
        free(s->blobs[i].digest);
        free(s->blobs[i].data);
        archive_kv_free(s->blobs[i].labels, s->blobs[i].n_labels);
    }
    free(s->blobs);
    archive_images_free(s->images, s->n_images);
    free(s);
}

struct mem_blob *mem_store_blob(struct mem_store *s, const char *digest)
{
    for (size_t i = 0; i < s->n_blobs; i++)
        if (strcmp(s->blobs[i].digest, digest) == 0)
            return &s->blobs[i];
    return NULL;
}

const struct archive_image *mem_store_image(struct mem_store *s, const char *name)
{
    for (size_t i = 0; i < s->n_images; i++)
        if (strcmp(s->images[i].name, name) == 0)
            return &s->images[i];
    return NULL;
}

const char *mem_blob_label(const struct mem_blob *b, const char *key)
{
    return b ? archive_kv_get(b->labels, b->n_labels, key) : NULL;
}

static struct mem_blob *add_blob(struct mem_store *s, const char *digest, const void *data,
                                 size_t len)
{
    struct mem_blob *b = mem_store_blob(s, digest);
    if (b)
        return b;
    s->blobs = xrealloc(s->blobs, (s->n_blobs + 1) * sizeof(*s->blobs));
    b = &s->blobs[s->n_blobs++];
    memset(b, 0, sizeof(*b));
    b->digest = xstrdup(digest);
    b->data = xmemdup(data, len ? len : 1);
    b->len = len;
    return b;
}

const char *mem_store_put(struct mem_store *s, const void *data, size_t len)
{
    static char last[DIGEST_STRING_SIZE];
    _cleanup_free_ char *d = sha256_of(data, len);
    add_blob(s, d, data, len);
    snprintf(last, sizeof(last), "%s", d);
    return last;
}

void mem_store_remove(struct mem_store *s, const char *digest)
{
    struct mem_blob *b = mem_store_blob(s, digest);
    if (!b)
        return;
    free(b->digest);
    free(b->data);
    archive_kv_free(b->labels, b->n_labels);
    size_t i = (size_t)(b - s->blobs);
    memmove(b, b + 1, (s->n_blobs - i - 1) * sizeof(*b));
    s->n_blobs--;
}

static int sink_begin(void *arg, const char *ref, int64_t size, const char *expected,
                      void **ret_writer, struct berth_error **err)
{
    struct mem_store *s = arg;
    if (expected && mem_store_blob(s, expected)) {
        *ret_writer = NULL;
        return 0;
    }
    struct mem_writer *w = xcalloc(1, sizeof(*w));
    w->expected = expected ? xstrdup(expected) : NULL;
    w->size = size;
    *ret_writer = w;
    s->open_writers++;
    return 0;
}

static int sink_write(void *arg, void *writer, const void *data, size_t len,
                      struct berth_error **err)
{
    struct mem_writer *w = writer;
    w->data = xreallocarray_grow(w->data, &w->capacity, w->len + len, 1);
    memcpy(w->data + w->len, data, len);
    w->len += len;
    return 0;
}

static void writer_free(struct mem_store *s, struct mem_writer *w)
{
    s->open_writers--;
    free(w->expected);
    free(w->data);
    free(w);
}

static int sink_commit(void *arg, void *writer, int64_t size, const char *digest,
                       const struct archive_kv *labels, size_t n_labels, struct berth_error **err)
{
    struct mem_store *s = arg;
    struct mem_writer *w = writer;
    _cleanup_free_ char *actual = sha256_of(w->data ? w->data : "", w->len);
    int r = 0;
    if (strcmp(actual, digest) != 0 || (w->expected && strcmp(w->expected, digest) != 0))
        r = err_make(err, ERR_FAILED_PRECONDITION, 0, "unexpected commit digest %s, expected %s",
                     actual, digest);
    else if ((size >= 0 && (size_t)size != w->len) || (w->size >= 0 && (size_t)w->size != w->len))
        r = err_make(err, ERR_FAILED_PRECONDITION, 0, "unexpected commit size %zu", w->len);
    if (r == 0 && !mem_store_blob(s, digest)) {
        struct mem_blob *b = add_blob(s, digest, w->data ? w->data : "", w->len);
        for (size_t i = 0; i < n_labels; i++)
            b->n_labels = archive_kv_set(&b->labels, b->n_labels, labels[i].key, labels[i].value);
    }
    if (r == 0)
        s->commits++;
    writer_free(s, w);
    return r;
}

static void sink_abort(void *arg, void *writer)
{
    writer_free(arg, writer);
}

static int blob_size(void *arg, const char *digest, int64_t *ret, struct berth_error **err)
{
    struct mem_blob *b = mem_store_blob(arg, digest);
    if (!b)
        return err_make(err, ERR_NOT_FOUND, 0, "content digest %s", digest);
    *ret = (int64_t)b->len;
    return 0;
}

static ssize_t blob_read_at(void *arg, const char *digest, int64_t offset, void *buf, size_t len,
                            struct berth_error **err)
{
    struct mem_blob *b = mem_store_blob(arg, digest);
    if (!b)
        return err_make(err, ERR_NOT_FOUND, 0, "content digest %s", digest);
    if ((size_t)offset >= b->len)
        return 0;
    size_t n = b->len - (size_t)offset < len ? b->len - (size_t)offset : len;
    memcpy(buf, b->data + offset, n);
    return (ssize_t)n;
}

static int blob_set_labels(void *arg, const char *digest, const struct archive_kv *labels, size_t n,
                           struct berth_error **err)
{
    struct mem_blob *b = mem_store_blob(arg, digest);
    if (!b)
        return err_make(err, ERR_NOT_FOUND, 0, "content digest %s", digest);
    for (size_t i = 0; i < n; i++)
        b->n_labels = archive_kv_set(&b->labels, b->n_labels, labels[i].key, labels[i].value);
    return 0;
}

static int find_compressed(void *arg, const char *diff_id, char **ret_digest, int64_t *ret_size,
                           struct berth_error **err)
{
    struct mem_store *s = arg;
    const struct mem_blob *best = NULL;
    for (size_t i = 0; i < s->n_blobs; i++) {
        const char *v = mem_blob_label(&s->blobs[i], ARCHIVE_LABEL_UNCOMPRESSED);
        if (v && strcmp(v, diff_id) == 0 && (!best || strcmp(s->blobs[i].digest, best->digest) > 0))
            best = &s->blobs[i];
    }
    if (!best)
        return 0;
    *ret_digest = xstrdup(best->digest);
    *ret_size = (int64_t)best->len;
    return 1;
}

static int image_store(void *arg, const struct archive_image *img, struct berth_error **err)
{
    struct mem_store *s = arg;
    s->image_store_calls++;
    for (size_t i = 0; i < s->n_images; i++) {
        struct archive_image *old = &s->images[i];
        if (strcmp(old->name, img->name) != 0)
            continue;
        archive_descriptor_clear(&old->target);
        archive_descriptor_copy(&old->target, &img->target);
        if (img->replace_labels) {
            archive_kv_free(old->labels, old->n_labels);
            old->labels = NULL;
            old->n_labels = 0;
            for (size_t j = 0; j < img->n_labels; j++)
                old->n_labels = archive_kv_set(&old->labels, old->n_labels, img->labels[j].key,
                                               img->labels[j].value);
        }
        return 0;
    }
    s->images = xrealloc(s->images, (s->n_images + 1) * sizeof(*s->images));
    struct archive_image *n = &s->images[s->n_images++];
    memset(n, 0, sizeof(*n));
    n->name = xstrdup(img->name);
    archive_descriptor_copy(&n->target, &img->target);
    for (size_t j = 0; j < img->n_labels; j++)
        n->n_labels =
            archive_kv_set(&n->labels, n->n_labels, img->labels[j].key, img->labels[j].value);
    return 0;
}

struct import_sink mem_store_sink(struct mem_store *s)
{
    return (struct import_sink){
        .arg = s,
        .blob_begin = sink_begin,
        .blob_write = sink_write,
        .blob_commit = sink_commit,
        .blob_abort = sink_abort,
        .blob_size = blob_size,
        .blob_read_at = blob_read_at,
        .blob_set_labels = blob_set_labels,
        .find_compressed = find_compressed,
        .image_store = image_store,
    };
}

static int source_image_get(void *arg, const char *name, struct archive_image *ret,
                            struct berth_error **err)
{
    const struct archive_image *img = mem_store_image(arg, name);
    if (!img)
        return err_make(err, ERR_NOT_FOUND, 0, "image \"%s\"", name);
    memset(ret, 0, sizeof(*ret));
    ret->name = xstrdup(img->name);
    archive_descriptor_copy(&ret->target, &img->target);
    return 0;
}

static int source_blob_info(void *arg, const char *digest, int64_t *ret_size,
                            struct archive_kv **ret_labels, size_t *ret_n, struct berth_error **err)
{
    struct mem_blob *b = mem_store_blob(arg, digest);
    if (!b)
        return err_make(err, ERR_NOT_FOUND, 0, "content digest %s", digest);
    *ret_size = (int64_t)b->len;
    *ret_labels = NULL;
    *ret_n = 0;
    for (size_t i = 0; i < b->n_labels; i++)
        *ret_n = archive_kv_set(ret_labels, *ret_n, b->labels[i].key, b->labels[i].value);
    return 0;
}

struct export_source mem_store_source(struct mem_store *s)
{
    return (struct export_source){
        .arg = s,
        .image_get = source_image_get,
        .blob_info = source_blob_info,
        .blob_read_at = blob_read_at,
    };
}

/* ---- driving import and export from memory ---- */

struct mem_reader {
    const char *data;
    size_t len, off, step;
};

static ssize_t mem_read(void *arg, void *buf, size_t len, struct berth_error **err)
{
    struct mem_reader *r = arg;
    size_t n = r->len - r->off;
    if (n > len)
        n = len;
    if (n > r->step)
        n = r->step;
    memcpy(buf, r->data + r->off, n);
    r->off += n;
    return (ssize_t)n;
}

int test_import_bytes(const void *data, size_t len, const struct import_options *o,
                      struct mem_store *s, struct import_result *ret, struct berth_error **err)
{
    struct mem_reader r = {data, len, 0, 7777};
    struct import_sink sink = mem_store_sink(s);
    return archive_import(mem_read, &r, o, &sink, ret, err);
}

struct mem_writer_buf {
    char *data;
    size_t len, capacity;
};

static int mem_write(void *arg, const void *data, size_t len, struct berth_error **err)
{
    struct mem_writer_buf *b = arg;
    b->data = xreallocarray_grow(b->data, &b->capacity, b->len + len + 1, 1);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int test_export_bytes(const struct export_options *o, struct mem_store *s, char **ret,
                      size_t *ret_len, struct berth_error **err)
{
    struct mem_writer_buf b = {0};
    struct export_source src = mem_store_source(s);
    if (archive_export(mem_write, &b, o, &src, err) < 0) {
        free(b.data);
        return -1;
    }
    *ret = b.data;
    *ret_len = b.len;
    return 0;
}

/* ---- tars ---- */

struct tar_builder {
    struct archive *a;
    struct mem_writer_buf out;
};

static la_ssize_t tar_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
    mem_write(client, buf, len, NULL);
    return (la_ssize_t)len;
}

struct tar_builder *tar_builder_new(void)
{
    struct tar_builder *t = xcalloc(1, sizeof(*t));
    t->a = archive_write_new();
    archive_write_set_format_pax_restricted(t->a);
    archive_write_set_bytes_in_last_block(t->a, 1);
    archive_write_open(t->a, &t->out, NULL, tar_write_cb, NULL);
    return t;
}

static void add_entry(struct tar_builder *t, const char *name, unsigned type, const void *data,
                      size_t len, const char *symlink, const char *hardlink)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    if (symlink)
        archive_entry_set_symlink(e, symlink);
    if (hardlink)
        archive_entry_set_hardlink(e, hardlink);
    if (type == AE_IFCHR)
        archive_entry_set_rdev(e, 0x0103);
    archive_write_header(t->a, e);
    if (len)
        archive_write_data(t->a, data, len);
    archive_entry_free(e);
}

void tar_add_file(struct tar_builder *t, const char *name, const void *data, size_t len)
{
    add_entry(t, name, AE_IFREG, data, len, NULL, NULL);
}

void tar_add_string(struct tar_builder *t, const char *name, const char *text)
{
    tar_add_file(t, name, text, strlen(text));
}

void tar_add_dir(struct tar_builder *t, const char *name)
{
    add_entry(t, name, AE_IFDIR, NULL, 0, NULL, NULL);
}

void tar_add_symlink(struct tar_builder *t, const char *name, const char *target)
{
    add_entry(t, name, AE_IFLNK, NULL, 0, target, NULL);
}

void tar_add_hardlink(struct tar_builder *t, const char *name, const char *target)
{
    add_entry(t, name, AE_IFREG, NULL, 0, NULL, target);
}

void tar_add_special(struct tar_builder *t, const char *name, unsigned type)
{
    add_entry(t, name, type, NULL, 0, NULL, NULL);
}

const char *tar_add_blob(struct tar_builder *t, const void *data, size_t len)
{
    static char last[DIGEST_STRING_SIZE];
    _cleanup_free_ char *d = sha256_of(data, len);
    _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", d + 7);
    tar_add_file(t, name, data, len);
    snprintf(last, sizeof(last), "%s", d);
    return last;
}

char *tar_builder_finish(struct tar_builder *t, size_t *ret_len)
{
    archive_write_close(t->a);
    archive_write_free(t->a);
    char *data = t->out.data;
    *ret_len = t->out.len;
    free(t);
    return data;
}

void tar_each(const char *data, size_t len,
              void (*fn)(void *arg, const char *name, const char *data, size_t len, unsigned type,
                         const char *link),
              void *arg)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK)
        abort();
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        size_t size = (size_t)archive_entry_size(e);
        _cleanup_free_ char *buf = xmalloc(size + 1);
        size_t got = 0;
        while (got < size) {
            la_ssize_t n = archive_read_data(a, buf + got, size - got);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        buf[got] = '\0';
        const char *link = archive_entry_symlink(e);
        fn(arg, archive_entry_pathname(e), buf, got, archive_entry_filetype(e), link);
    }
    archive_read_free(a);
}

struct find_entry {
    const char *name;
    char *data;
    size_t len;
};

static void find_entry_cb(void *arg, const char *name, const char *data, size_t len, unsigned type,
                          const char *link)
{
    struct find_entry *f = arg;
    if (!f->data && strcmp(name, f->name) == 0) {
        f->data = xmemdup(data, len + 1);
        f->len = len;
    }
}

char *tar_entry(const char *data, size_t len, const char *name, size_t *ret_len)
{
    struct find_entry f = {name, NULL, 0};
    tar_each(data, len, find_entry_cb, &f);
    if (ret_len)
        *ret_len = f.len;
    return f.data;
}

/* ---- test images ---- */

bool test_images_available(void)
{
    static int state = -1; /* -1 unknown, 0 missing, 1 built */
    if (state >= 0)
        return state == 1;
    const char *script = getenv("BERTH_TEST_IMAGES_SCRIPT");
    const char *dir = getenv("BERTH_TEST_IMAGES_DIR");
    state = 0;
    if (!script || !dir) {
        fprintf(stderr, "test images: BERTH_TEST_IMAGES_SCRIPT/DIR not set\n");
        return false;
    }
    _cleanup_free_ char *cmd = xasprintf("'%s' '%s'", script, dir);
    int status = system(cmd);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr,
                "test images: %s failed (%d): skipping image tests "
                "(is busybox-static installed?)\n",
                script, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return false;
    }
    state = 1;
    return true;
}

char *test_image_read(const char *file, size_t *ret_len)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", getenv("BERTH_TEST_IMAGES_DIR"), file);
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = xmalloc((size_t)size + 1);
    if (fread(data, 1, (size_t)size, f) != (size_t)size)
        abort();
    fclose(f);
    data[size] = '\0';
    *ret_len = (size_t)size;
    return data;
}

char *test_image_info(const char *file, const char *key, int index)
{
    _cleanup_free_ char *path = xasprintf("%s/images.json", getenv("BERTH_TEST_IMAGES_DIR"));
    struct json_object *root = json_object_from_file(path);
    if (!root)
        abort();
    struct json_object *obj = root, *v = NULL;
    if (file) {
        struct json_object *images = NULL;
        json_object_object_get_ex(root, "images", &images);
        json_object_object_get_ex(images, file, &obj);
    }
    char *out = NULL;
    if (obj && json_object_object_get_ex(obj, key, &v)) {
        if (index >= 0)
            v = json_object_array_get_idx(v, (size_t)index);
        if (v)
            out = xstrdup(json_object_get_string(v));
    }
    json_object_put(root);
    return out;
}
