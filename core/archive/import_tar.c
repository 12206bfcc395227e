/* The tar pass of an import: every regular entry stored and hashed as it streams by. */
#include "core/archive/archive-internal.h"
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"
#include "lib/base/gopath.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (128 * 1024)

struct read_context {
    archive_read_fn read;
    void *arg;
    struct berth_error *err; /* the reader's own error, kept for the caller */
    char buf[CHUNK];
};

static la_ssize_t read_callback(struct archive *a, void *client, const void **buffer)
{
    struct read_context *ctx = client;
    ssize_t n = ctx->read(ctx->arg, ctx->buf, sizeof(ctx->buf), &ctx->err);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", ctx->err ? ctx->err->message : "read failed");
        return -1;
    }
    *buffer = ctx->buf;
    return n;
}

void import_archive_clear(struct import_archive *a)
{
    for (size_t i = 0; i < a->n_entries; i++) {
        free(a->entries[i].name);
        free(a->entries[i].digest);
    }
    free(a->entries);
    for (size_t i = 0; i < a->n_symlinks; i++) {
        free(a->symlinks[i].name);
        free(a->symlinks[i].target);
    }
    free(a->symlinks);
    free(a->layout_version);
    json_object_put(a->docker_manifests);
    memset(a, 0, sizeof(*a));
}

static int compare_entries(const void *x, const void *y)
{
    return strcmp(((const struct import_entry *)x)->name, ((const struct import_entry *)y)->name);
}

static int compare_symlinks(const void *x, const void *y)
{
    return strcmp(((const struct import_symlink *)x)->name,
                  ((const struct import_symlink *)y)->name);
}

const struct import_entry *import_archive_find(const struct import_archive *a, const char *name)
{
    struct import_entry key = {.name = (char *)name};
    if (a->n_entries == 0)
        return NULL;
    return bsearch(&key, a->entries, a->n_entries, sizeof(*a->entries), compare_entries);
}

/* Turns libarchive's failure into ours, preferring the read callback's own error. */
static int archive_failure(struct archive *a, struct read_context *ctx, const char *what,
                           struct berth_error **err)
{
    if (ctx->err) {
        *err = steal_ptr(ctx->err);
        return err_wrap(err, "%s", what);
    }
    const char *msg = archive_error_string(a);
    return err_make(err, ERR_INVALID_ARGUMENT, 0, "%s: %s", what, msg ? msg : "unreadable tar");
}

/* A relative name that stays inside the archive: no leading "/", no ".." element. */
static int check_name(const char *name, struct berth_error **err)
{
    if (!*name)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "archive entry with an empty name");
    if (strlen(name) > ARCHIVE_MAX_NAME)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "archive entry name longer than %d bytes",
                        ARCHIVE_MAX_NAME);
    if (name[0] == '/')
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "archive entry \"%s\": absolute path", name);
    for (const char *p = name; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "archive entry \"%s\": \"..\" leads out of the archive", name);
        p += len;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* Reads a JSON entry whole (it is at most ARCHIVE_JSON_MAX bytes). */
static int read_json_entry(struct archive *a, struct read_context *ctx, const char *name,
                           int64_t size, struct json_object **ret, struct berth_error **err)
{
    if (size > ARCHIVE_JSON_MAX)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "archive entry \"%s\": %lld bytes of JSON is over the %d byte limit", name,
                        (long long)size, ARCHIVE_JSON_MAX);
    _cleanup_free_ char *data = xmalloc((size_t)size + 1);
    size_t got = 0;
    while (got < (size_t)size) {
        la_ssize_t n = archive_read_data(a, data + got, (size_t)size - got);
        if (n < 0)
            return archive_failure(a, ctx, name, err);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return archive_json_parse(data, got, true, ret, err);
}

/* manifest.json must decode into []struct{Config string; RepoTags, Layers []string}. */
static int check_docker_manifests(struct json_object *doc, struct berth_error **err)
{
    if (!doc)
        return 0;
    if (!json_object_is_type(doc, json_type_array))
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "json: cannot unmarshal non-array into the manifest list");
    for (size_t i = 0; i < json_object_array_length(doc); i++) {
        struct json_object *m = json_object_array_get_idx(doc, i);
        if (m && !json_object_is_type(m, json_type_object))
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "json: manifest list entry %zu is not an object", i);
        _cleanup_free_ char *config = NULL;
        char **tags = NULL, **layers = NULL;
        size_t n_tags = 0, n_layers = 0;
        int r = archive_json_string(m, "Config", ".Config", &config, err);
        if (r == 0)
            r = archive_json_string_array(m, "RepoTags", ".RepoTags", &tags, &n_tags, err);
        if (r == 0)
            r = archive_json_string_array(m, "Layers", ".Layers", &layers, &n_layers, err);
        archive_strv_free(tags, n_tags);
        archive_strv_free(layers, n_layers);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* "blobs/<alg>/<encoded>" names its digest; returns it (malloc'd) when the name is valid. */
static char *named_digest(const char *name)
{
    if (strncmp(name, "blobs/", 6) != 0)
        return NULL;
    const char *alg = name + 6;
    const char *slash = strchr(alg, '/');
    if (!slash || strchr(slash + 1, '/'))
        return NULL;
    char *d = xasprintf("%.*s:%s", (int)(slash - alg), alg, slash + 1);
    if (digest_check(d)) {
        free(d);
        return NULL;
    }
    return d;
}

/* Streams one regular entry into the sink, hashing it; records it in ret. */
static int store_blob(struct archive *a, struct read_context *ctx, const struct import_sink *sink,
                      const char *name, int64_t size, struct import_entry *ret,
                      struct berth_error **err)
{
    _cleanup_free_ char *named = named_digest(name);
    enum digest_algorithm named_alg = DIGEST_SHA256;
    if (named)
        digest_parse(named, &named_alg, NULL, NULL);
    _cleanup_digester_ struct digester *canonical = NULL;
    _cleanup_digester_ struct digester *check = NULL;
    if (digester_new(DIGEST_CANONICAL, &canonical, err) < 0)
        return -1;
    if (named && named_alg != DIGEST_CANONICAL && digester_new(named_alg, &check, err) < 0)
        return -1;

    _cleanup_free_ char *ref = xasprintf("tar-%s", name);
    void *writer = NULL;
    struct berth_error *begin_err = NULL;
    if (sink->blob_begin(sink->arg, ref, size, named_alg == DIGEST_CANONICAL ? named : NULL,
                         &writer, &begin_err) < 0) {
        if (!begin_err || begin_err->kind != ERR_ALREADY_EXISTS) {
            *err = begin_err;
            return err_wrap(err, "failed to ingest \"%s\"", name);
        }
        err_free(begin_err);
        writer = NULL;
    }

    _cleanup_free_ char *buf = xmalloc(CHUNK);
    int64_t total = 0;
    ret->head_len = 0;
    for (;;) {
        la_ssize_t n = archive_read_data(a, buf, CHUNK);
        if (n < 0) {
            if (writer)
                sink->blob_abort(sink->arg, writer);
            return archive_failure(a, ctx, name, err);
        }
        if (n == 0)
            break;
        digester_update(canonical, buf, (size_t)n);
        if (check)
            digester_update(check, buf, (size_t)n);
        if (ret->head_len < sizeof(ret->head)) {
            size_t take = sizeof(ret->head) - ret->head_len;
            if (take > (size_t)n)
                take = (size_t)n;
            memcpy(ret->head + ret->head_len, buf, take);
            ret->head_len += take;
        }
        if (writer && sink->blob_write(sink->arg, writer, buf, (size_t)n, err) < 0) {
            sink->blob_abort(sink->arg, writer);
            return err_wrap(err, "failed to ingest \"%s\"", name);
        }
        total += n;
    }
    char digest[DIGEST_STRING_SIZE], checked[DIGEST_STRING_SIZE];
    int r = digester_digest(canonical, digest, err);
    if (r == 0 && check)
        r = digester_digest(check, checked, err);
    if (r == 0 && total != size)
        r = err_make(err, ERR_INVALID_ARGUMENT, 0,
                     "archive entry \"%s\": %lld bytes, header says %lld", name, (long long)total,
                     (long long)size);
    if (r == 0 && named && strcmp(check ? checked : digest, named) != 0)
        r = err_make(err, ERR_INVALID_ARGUMENT, 0,
                     "archive entry \"%s\": content has digest %s, not the one its name gives",
                     name, check ? checked : digest);
    if (r < 0) {
        if (writer)
            sink->blob_abort(sink->arg, writer);
        return -1;
    }
    if (writer && sink->blob_commit(sink->arg, writer, size, digest, NULL, 0, err) < 0)
        return err_wrap(err, "failed to ingest \"%s\"", name);
    ret->name = xstrdup(name);
    ret->digest = xstrdup(digest);
    ret->size = size;
    return 0;
}

static int read_entries(struct archive *a, struct read_context *ctx, const struct import_sink *sink,
                        struct import_archive *out, struct berth_error **err)
{
    size_t capacity = 0, symlink_capacity = 0, count = 0;
    bool seen_layout = false, seen_manifest = false;
    for (;;) {
        struct archive_entry *entry;
        int r = archive_read_next_header(a, &entry);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return archive_failure(a, ctx, "read archive", err);
        if (++count > ARCHIVE_MAX_ENTRIES)
            return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "archive has more than %d entries",
                            ARCHIVE_MAX_ENTRIES);
        const char *raw = archive_entry_pathname(entry);
        if (!raw)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "archive entry %zu has no usable name",
                            count);
        if (check_name(raw, err) < 0)
            return -1;
        _cleanup_free_ char *name = go_path_clean(raw, strlen(raw));
        mode_t type = archive_entry_filetype(entry);

        if (archive_entry_hardlink(entry))
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "archive entry \"%s\": hard links are not allowed", raw);
        if (type == AE_IFDIR)
            continue;
        if (type == AE_IFLNK) {
            const char *link = archive_entry_symlink(entry);
            _cleanup_free_ char *dir = NULL;
            const char *slash = strrchr(name, '/');
            dir = slash ? xstrndup(name, (size_t)(slash - name)) : xstrdup(".");
            _cleanup_free_ char *target = go_path_join(dir, link ? link : "");
            if (!link || !*link || link[0] == '/' || strcmp(target, "..") == 0 ||
                strncmp(target, "../", 3) == 0)
                return err_make(err, ERR_INVALID_ARGUMENT, 0,
                                "archive entry \"%s\": symlink to \"%s\" leads out of the archive",
                                raw, link ? link : "");
            out->symlinks = xreallocarray_grow(out->symlinks, &symlink_capacity,
                                               out->n_symlinks + 1, sizeof(*out->symlinks));
            out->symlinks[out->n_symlinks].name = steal_ptr(name);
            out->symlinks[out->n_symlinks].target = steal_ptr(target);
            out->n_symlinks++;
            archive_read_data_skip(a);
            continue;
        }
        if (type != AE_IFREG)
            return err_make(
                err, ERR_INVALID_ARGUMENT, 0,
                "archive entry \"%s\": only files, directories and symlinks are allowed", raw);
        if (archive_entry_sparse_count(entry) > 0)
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "archive entry \"%s\": sparse files are not allowed", raw);
        int64_t size = archive_entry_size(entry);
        if (size < 0)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "archive entry \"%s\": bad size", raw);

        if (strcmp(name, "oci-layout") == 0 || strcmp(name, "manifest.json") == 0) {
            bool layout = name[0] == 'o';
            if (layout ? seen_layout : seen_manifest)
                return err_make(err, ERR_INVALID_ARGUMENT, 0,
                                "archive entry \"%s\" appears more than once", name);
            struct json_object *doc = NULL;
            if (read_json_entry(a, ctx, raw, size, &doc, err) < 0)
                return err_wrap(err, "untar %s \"%s\"", layout ? "oci layout" : "manifest", raw);
            if (layout) {
                seen_layout = true;
                char *version = NULL;
                r = (!doc || json_object_is_type(doc, json_type_object))
                        ? archive_json_string(doc, "imageLayoutVersion",
                                              "ImageLayout.imageLayoutVersion", &version, err)
                        : err_make(err, ERR_INVALID_ARGUMENT, 0,
                                   "json: cannot unmarshal into v1.ImageLayout");
                json_object_put(doc);
                if (r < 0)
                    return err_wrap(err, "untar oci layout \"%s\"", raw);
                out->layout_version = version;
            } else {
                seen_manifest = true;
                if (check_docker_manifests(doc, err) < 0) {
                    json_object_put(doc);
                    return err_wrap(err, "untar manifest \"%s\"", raw);
                }
                out->docker_manifests = doc;
            }
            continue;
        }

        out->entries =
            xreallocarray_grow(out->entries, &capacity, out->n_entries + 1, sizeof(*out->entries));
        struct import_entry *e = &out->entries[out->n_entries];
        memset(e, 0, sizeof(*e));
        if (store_blob(a, ctx, sink, name, size, e, err) < 0)
            return -1;
        out->n_entries++;
    }
}

int import_archive_read(archive_read_fn read, void *read_arg, const struct import_sink *sink,
                        struct import_archive *ret, struct berth_error **err)
{
    struct import_archive out = {0};
    _cleanup_free_ struct read_context *ctx = xcalloc(1, sizeof(*ctx));
    ctx->read = read;
    ctx->arg = read_arg;
    struct archive *a = archive_read_new();
    if (!a)
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "archive reader");
    /* What containerd's DecompressStream accepts: plain, gzip or zstd tar. */
    archive_read_support_format_tar(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    int r = 0;
    if (archive_read_open(a, ctx, NULL, read_callback, NULL) != ARCHIVE_OK)
        r = archive_failure(a, ctx, "read archive", err);
    if (r == 0)
        r = read_entries(a, ctx, sink, &out, err);
    archive_read_free(a);
    err_free(ctx->err);
    if (r == 0) {
        if (out.n_entries > 1)
            qsort(out.entries, out.n_entries, sizeof(*out.entries), compare_entries);
        for (size_t i = 1; i < out.n_entries; i++)
            if (strcmp(out.entries[i].name, out.entries[i - 1].name) == 0)
                r = err_make(err, ERR_INVALID_ARGUMENT, 0,
                             "archive entry \"%s\" appears more than once", out.entries[i].name);
        if (out.n_symlinks > 1)
            qsort(out.symlinks, out.n_symlinks, sizeof(*out.symlinks), compare_symlinks);
        for (size_t i = 0; r == 0 && i < out.n_symlinks; i++)
            if (import_archive_find(&out, out.symlinks[i].name) ||
                (i > 0 && strcmp(out.symlinks[i].name, out.symlinks[i - 1].name) == 0))
                r = err_make(err, ERR_INVALID_ARGUMENT, 0,
                             "archive entry \"%s\" appears more than once", out.symlinks[i].name);
    }
    if (r < 0) {
        import_archive_clear(&out);
        return -1;
    }
    *ret = out;
    return 0;
}
