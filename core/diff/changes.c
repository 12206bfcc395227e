/* The change writer: changes in path order written as an OCI layer tar as containerd writes it. */
#include "core/diff/compare-internal.h"

#include "core/diff/diff-internal.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#define BLOCK_SIZE    512
#define OUT_BUF_SIZE  (64 * 1024)
#define INODE_BUCKETS 1024

/* A hardlinked inode: the first name written for it, and unmodified names waiting for it. */
struct inode_entry {
    uint64_t ino;
    char *source;
    char **refs;
    size_t n_refs;
    struct inode_entry *next;
};

struct change_writer {
    const char *upper;
    const struct compare_options *opts;
    diff_write_fn write;
    void *opaque;
    struct digester *tar_digest, *blob_digest;
    int64_t tar_size, blob_size;
    uint64_t entries;
    bool gzip, z_open;
    z_stream z;
    unsigned char out[OUT_BUF_SIZE];
    size_t out_len;
    struct path_set *added_dirs;
    struct inode_entry *inodes[INODE_BUCKETS];
};

/* What goes into one tar header (Go's tar.Header fields the ChangeWriter sets). */
struct tar_entry {
    const char *name;
    const char *linkname;
    char typeflag;
    int64_t mode, uid, gid, size, mtime, devmajor, devminor;
    const char *capability;
    size_t capability_len;
};

/* ---- output: buffer, compress, digest ---- */

static int flush_out(struct change_writer *cw, struct berth_error **err)
{
    if (cw->out_len == 0)
        return 0;
    digester_update(cw->blob_digest, cw->out, cw->out_len);
    cw->blob_size += (int64_t)cw->out_len;
    size_t n = cw->out_len;
    cw->out_len = 0;
    return cw->write(cw->opaque, cw->out, n, err);
}

static int deflate_out(struct change_writer *cw, const void *data, size_t len, int flush,
                       struct berth_error **err)
{
    cw->z.next_in = (Bytef *)data;
    cw->z.avail_in = (uInt)len;
    for (;;) {
        cw->z.next_out = cw->out + cw->out_len;
        cw->z.avail_out = (uInt)(sizeof(cw->out) - cw->out_len);
        int rc = deflate(&cw->z, flush);
        if (rc == Z_STREAM_ERROR)
            return err_make(err, ERR_INTERNAL, 0, "gzip: deflate failed");
        cw->out_len = sizeof(cw->out) - cw->z.avail_out;
        if (cw->z.avail_out == 0) {
            if (flush_out(cw, err) < 0)
                return -1;
            continue;
        }
        if (flush == Z_FINISH ? rc == Z_STREAM_END : cw->z.avail_in == 0)
            return 0;
    }
}

static int emit(struct change_writer *cw, const void *data, size_t len, struct berth_error **err)
{
    digester_update(cw->tar_digest, data, len);
    cw->tar_size += (int64_t)len;
    if (cw->gzip)
        return deflate_out(cw, data, len, Z_NO_FLUSH, err);
    const unsigned char *p = data;
    while (len > 0) {
        size_t n = sizeof(cw->out) - cw->out_len;
        if (n > len)
            n = len;
        memcpy(cw->out + cw->out_len, p, n);
        cw->out_len += n;
        p += n;
        len -= n;
        if (cw->out_len == sizeof(cw->out) && flush_out(cw, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- tar headers as Go's archive/tar writes them (USTAR when it fits, else PAX) ---- */

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

static bool fits_octal(size_t field, int64_t x)
{
    int64_t max = (1ll << (3 * (field - 1))) - 1;
    return x >= 0 && x <= max;
}

/* Go's splitUSTARPath: a name over 100 bytes split at a '/' into prefix (≤155) and name (≤100). */
static bool split_ustar(const char *name, size_t *ret_prefix_len)
{
    size_t len = strlen(name);
    if (len <= 100 || !is_ascii(name))
        return false;
    size_t limit = len;
    if (limit > 156)
        limit = 156;
    else if (name[limit - 1] == '/')
        limit--;
    ssize_t i = -1;
    for (size_t j = 0; j < limit; j++)
        if (name[j] == '/')
            i = (ssize_t)j;
    if (i <= 0)
        return false;
    size_t nlen = len - (size_t)i - 1;
    if (nlen > 100 || nlen == 0 || (size_t)i > 155)
        return false;
    *ret_prefix_len = (size_t)i;
    return true;
}

static void put_string(unsigned char *field, size_t size, const char *s, size_t len)
{
    if (len > size)
        len = size;
    memcpy(field, s, len);
}

/* Go's toASCII then truncation to the field. */
static void put_ascii(unsigned char *field, size_t size, const char *s)
{
    size_t j = 0;
    for (; *s && j < size; s++)
        if ((unsigned char)*s < 0x80)
            field[j++] = (unsigned char)*s;
}

static void put_octal(unsigned char *field, size_t size, int64_t x)
{
    if (!fits_octal(size, x))
        x = 0;
    char buf[32];
    snprintf(buf, sizeof(buf), "%0*llo", (int)(size - 1), (unsigned long long)x);
    memcpy(field, buf, size - 1);
    field[size - 1] = 0;
}

static void finish_block(unsigned char *b)
{
    memcpy(b + 257,
           "ustar\0"
           "00",
           8);
    unsigned sum = 0;
    memset(b + 148, ' ', 8);
    for (size_t i = 0; i < BLOCK_SIZE; i++)
        sum += b[i];
    char buf[16];
    snprintf(buf, sizeof(buf), "%06o", sum);
    memcpy(b + 148, buf, 6);
    b[154] = 0;
    b[155] = ' ';
}

static void fill_common(unsigned char *b, const struct tar_entry *e)
{
    put_octal(b + 100, 8, e->mode);
    put_octal(b + 108, 8, e->uid);
    put_octal(b + 116, 8, e->gid);
    put_octal(b + 124, 12, e->size);
    put_octal(b + 136, 12, e->mtime);
    b[156] = (unsigned char)e->typeflag;
    put_octal(b + 329, 8, e->devmajor);
    put_octal(b + 337, 8, e->devminor);
}

struct pax_record {
    const char *key;
    const char *value;
    size_t value_len;
    char number[32];
};

static int cmp_record(const void *a, const void *b)
{
    return strcmp(((const struct pax_record *)a)->key, ((const struct pax_record *)b)->key);
}

static void add_number_record(struct pax_record *r, size_t *n, const char *key, int64_t v)
{
    struct pax_record *rec = &r[(*n)++];
    snprintf(rec->number, sizeof(rec->number), "%lld", (long long)v);
    rec->key = key;
    rec->value = rec->number;
    rec->value_len = strlen(rec->number);
}

static int write_pad(struct change_writer *cw, int64_t size, struct berth_error **err)
{
    static const unsigned char zeros[BLOCK_SIZE];
    size_t pad = (size_t)((BLOCK_SIZE - size % BLOCK_SIZE) % BLOCK_SIZE);
    return pad ? emit(cw, zeros, pad, err) : 0;
}

static int write_header(struct change_writer *cw, const struct tar_entry *e,
                        struct berth_error **err)
{
    struct pax_record recs[8];
    size_t n = 0;
    size_t prefix_len = 0;
    bool split = false;
    if (strlen(e->name) > 100 || !is_ascii(e->name)) {
        split = split_ustar(e->name, &prefix_len);
        recs[n++] =
            (struct pax_record){.key = "path", .value = e->name, .value_len = strlen(e->name)};
    }
    if (strlen(e->linkname) > 100 || !is_ascii(e->linkname))
        recs[n++] = (struct pax_record){
            .key = "linkpath", .value = e->linkname, .value_len = strlen(e->linkname)};
    if (!fits_octal(8, e->uid))
        add_number_record(recs, &n, "uid", e->uid);
    if (!fits_octal(8, e->gid))
        add_number_record(recs, &n, "gid", e->gid);
    if (!fits_octal(12, e->size))
        add_number_record(recs, &n, "size", e->size);
    if (!fits_octal(12, e->mtime))
        add_number_record(recs, &n, "mtime", e->mtime);
    bool ustar = true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(recs[i].key, "path") != 0 || !split)
            ustar = false;
    if (e->capability_len > 0) {
        recs[n++] = (struct pax_record){.key = "SCHILY.xattr." CAPABILITY_XATTR,
                                        .value = e->capability,
                                        .value_len = e->capability_len};
        ustar = false;
    }
    unsigned char b[BLOCK_SIZE];
    if (ustar) {
        memset(b, 0, sizeof(b));
        if (split) {
            put_string(b + 345, 155, e->name, prefix_len);
            put_string(b, 100, e->name + prefix_len + 1, strlen(e->name) - prefix_len - 1);
        } else {
            put_string(b, 100, e->name, strlen(e->name));
        }
        put_string(b + 157, 100, e->linkname, strlen(e->linkname));
        fill_common(b, e);
        finish_block(b);
        return emit(cw, b, sizeof(b), err);
    }

    /* The extended header "DIR/PaxHeaders.0/BASE" with the records sorted by key. */
    qsort(recs, n, sizeof(recs[0]), cmp_record);
    size_t data_len = 0;
    size_t rec_len[8];
    for (size_t i = 0; i < n; i++) {
        size_t size = strlen(recs[i].key) + recs[i].value_len + 3;
        char digits[32];
        size_t nd = (size_t)snprintf(digits, sizeof(digits), "%zu", size);
        size += nd;
        if ((size_t)snprintf(digits, sizeof(digits), "%zu", size) > nd)
            size++;
        rec_len[i] = size;
        data_len += size;
    }
    _cleanup_free_ char *data = xmalloc(data_len + 1);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        off += (size_t)snprintf(data + off, data_len + 1 - off, "%zu %s=", rec_len[i], recs[i].key);
        memcpy(data + off, recs[i].value, recs[i].value_len);
        off += recs[i].value_len;
        data[off++] = '\n';
    }
    const char *slash = strrchr(e->name, '/');
    size_t dir_len = slash ? (size_t)(slash - e->name) : 0;
    const char *base = slash ? slash + 1 : e->name;
    _cleanup_free_ char *xname = NULL;
    if (asprintf(&xname, "%.*s%sPaxHeaders.0%s%s", (int)dir_len, e->name, dir_len ? "/" : "",
                 *base ? "/" : "", base) < 0)
        abort();
    memset(b, 0, sizeof(b));
    put_ascii(b, 100, xname);
    for (size_t l = strnlen((char *)b, 100); l > 0 && b[l - 1] == '/'; l--)
        b[l - 1] = 0;
    put_octal(b + 100, 8, 0);
    put_octal(b + 108, 8, 0);
    put_octal(b + 116, 8, 0);
    put_octal(b + 124, 12, (int64_t)data_len);
    put_octal(b + 136, 12, 0);
    b[156] = 'x';
    finish_block(b);
    if (emit(cw, b, sizeof(b), err) < 0 || emit(cw, data, data_len, err) < 0 ||
        write_pad(cw, (int64_t)data_len, err) < 0)
        return -1;

    memset(b, 0, sizeof(b));
    put_ascii(b, 100, e->name);
    put_ascii(b + 157, 100, e->linkname);
    fill_common(b, e);
    finish_block(b);
    return emit(cw, b, sizeof(b), err);
}

/* ---- the change writer (containerd's ChangeWriter.HandleChange) ---- */

static struct inode_entry *inode_get(struct change_writer *cw, uint64_t ino)
{
    struct inode_entry **slot = &cw->inodes[ino % INODE_BUCKETS];
    for (struct inode_entry *e = *slot; e; e = e->next)
        if (e->ino == ino)
            return e;
    struct inode_entry *e = xcalloc(1, sizeof(*e));
    e->ino = ino;
    e->next = *slot;
    *slot = e;
    return e;
}

char *diff_join(const char *a, const char *b)
{
    char *s;
    if (asprintf(&s, "%s%s%s", a, *a && *b ? "/" : "", b) < 0)
        abort();
    return s;
}

/* Writes the parent directory of name first when this layer has not written it yet. */
static int include_parents(struct change_writer *cw, const char *name, bool is_dir,
                           struct berth_error **err)
{
    _cleanup_free_ char *trimmed = xstrdup(name);
    size_t len = strlen(trimmed);
    while (len > 0 && trimmed[len - 1] == '/')
        trimmed[--len] = 0;
    char *slash = strrchr(trimmed, '/');
    if (len > 0 && slash) {
        _cleanup_free_ char *parent = xstrndup(trimmed, (size_t)(slash - trimmed));
        if (!path_set_has(cw->added_dirs, parent)) {
            path_set_add(cw->added_dirs, parent);
            _cleanup_free_ char *full = diff_join(cw->upper, parent);
            struct stat st;
            if (stat(full, &st) < 0)
                return err_make(err, ERR_UNKNOWN, errno, "stat %s", full);
            if (change_writer_handle(cw, CHANGE_MODIFY, parent, &st, err) < 0)
                return -1;
        }
    }
    if (is_dir)
        path_set_add(cw->added_dirs, trimmed);
    return 0;
}

static int copy_file(struct change_writer *cw, const char *full, int64_t size,
                     struct berth_error **err)
{
    _cleanup_close_ int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_make(err, ERR_UNKNOWN, errno, "failed to open path: %s", full);
    enum { COPY_BUFFER = 128 * 1024 };
    _cleanup_free_ unsigned char *buf = xmalloc(COPY_BUFFER);
    int64_t left = size;
    while (left > 0) {
        size_t want = left < (int64_t)COPY_BUFFER ? (size_t)left : COPY_BUFFER;
        ssize_t r = read(fd, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return err_make(err, ERR_UNKNOWN, errno, "failed to copy: %s", full);
        if (r == 0)
            return err_make(err, ERR_UNKNOWN, 0, "failed to copy: %s: short write copying file",
                            full);
        if (emit(cw, buf, (size_t)r, err) < 0)
            return -1;
        left -= r;
    }
    char extra;
    if (read(fd, &extra, 1) > 0)
        return err_make(err, ERR_UNKNOWN, 0, "failed to copy: %s: write too long", full);
    return write_pad(cw, size, err);
}

int change_writer_handle(struct change_writer *cw, enum change_kind kind, const char *path,
                         const struct stat *st, struct berth_error **err)
{
    if (kind == CHANGE_DELETE) {
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *name = NULL;
        if (asprintf(&name, "%.*s%s" WHITEOUT_PREFIX "%s", slash ? (int)(slash - path) : 0, path,
                     slash ? "/" : "", slash ? slash + 1 : path) < 0)
            abort();
        struct tar_entry e = {.name = name, .linkname = "", .typeflag = '0'};
        if (include_parents(cw, name, false, err) < 0)
            return -1;
        cw->entries++;
        return write_header(cw, &e, err);
    }
    if (S_ISSOCK(st->st_mode))
        return 0;
    _cleanup_free_ char *full = diff_join(cw->upper, path);
    char link[PATH_MAX + 1] = "";
    if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlink(full, link, sizeof(link) - 1);
        if (n < 0)
            return err_make(err, ERR_UNKNOWN, errno, "readlink %s", full);
        link[n] = 0;
    }
    struct tar_entry e = {
        .linkname = link,
        .mode = st->st_mode & 07777,
        .uid = st->st_uid,
        .gid = st->st_gid,
        .mtime = st->st_mtim.tv_sec,
    };
    if (cw->opts->has_source_date_epoch &&
        (st->st_mtim.tv_sec > cw->opts->source_date_epoch ||
         (st->st_mtim.tv_sec == cw->opts->source_date_epoch && st->st_mtim.tv_nsec > 0)))
        e.mtime = cw->opts->source_date_epoch;
    switch (st->st_mode & S_IFMT) {
    case S_IFREG:
        e.typeflag = '0';
        e.size = st->st_size;
        break;
    case S_IFDIR:
        e.typeflag = '5';
        break;
    case S_IFLNK:
        e.typeflag = '2';
        break;
    case S_IFCHR:
        e.typeflag = '3';
        break;
    case S_IFBLK:
        e.typeflag = '4';
        break;
    case S_IFIFO:
        e.typeflag = '6';
        break;
    default:
        return err_make(err, ERR_UNKNOWN, 0, "archive/tar: unknown file mode of %s", full);
    }
    /* containerd tests S_IFBLK|S_IFCHR bitwise: every type but regular files and fifos. */
    if ((st->st_mode & S_IFMT) & (S_IFBLK | S_IFCHR)) {
        e.devmajor = major(st->st_rdev);
        e.devminor = minor(st->st_rdev);
    }
    _cleanup_free_ char *name = NULL;
    if (asprintf(&name, "%s%s", path, S_ISDIR(st->st_mode) ? "/" : "") < 0)
        abort();
    e.name = name;

    char **extra = NULL;
    size_t n_extra = 0;
    if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
        struct inode_entry *ie = inode_get(cw, st->st_ino);
        if (ie->source) {
            e.typeflag = '1';
            e.linkname = ie->source;
            e.size = 0;
        } else if (kind == CHANGE_UNMODIFIED) {
            ie->refs = xrealloc(ie->refs, (ie->n_refs + 1) * sizeof(*ie->refs));
            ie->refs[ie->n_refs++] = xstrdup(name);
            return 0;
        } else {
            ie->source = xstrdup(name);
            extra = ie->refs;
            n_extra = ie->n_refs;
            ie->refs = NULL;
            ie->n_refs = 0;
        }
    } else if (kind == CHANGE_UNMODIFIED) {
        return 0;
    }

    char capability[MAX_CAPABILITY];
    ssize_t cap_len = lgetxattr(full, CAPABILITY_XATTR, capability, sizeof(capability));
    if (cap_len < 0 && errno != ENODATA && errno != ENOTSUP) {
        int saved = errno;
        for (size_t i = 0; i < n_extra; i++)
            free(extra[i]);
        free(extra);
        return err_make(err, ERR_UNKNOWN, saved, "failed to get capabilities xattr of %s", full);
    }
    if (cap_len > 0) {
        e.capability = capability;
        e.capability_len = (size_t)cap_len;
    }

    int rc = include_parents(cw, name, e.typeflag == '5', err);
    if (rc == 0) {
        cw->entries++;
        rc = write_header(cw, &e, err);
    }
    if (rc == 0 && e.typeflag == '0' && e.size > 0)
        rc = copy_file(cw, full, e.size, err);
    for (size_t i = 0; i < n_extra; i++) {
        if (rc == 0) {
            e.name = extra[i];
            e.typeflag = '1';
            e.linkname = name;
            e.size = 0;
            rc = include_parents(cw, e.name, false, err);
            if (rc == 0) {
                cw->entries++;
                rc = write_header(cw, &e, err);
            }
        }
        free(extra[i]);
    }
    free(extra);
    return rc;
}

/* ---- lifecycle ---- */

struct change_writer *change_writer_new(const char *upper, const struct compare_options *opts,
                                        diff_write_fn write, void *opaque, struct berth_error **err)
{
    struct change_writer *cw = xcalloc(1, sizeof(*cw));
    cw->upper = upper;
    cw->opts = opts;
    cw->gzip = opts->gzip;
    cw->write = write;
    cw->opaque = opaque;
    cw->added_dirs = path_set_new();
    if (digester_new(DIGEST_SHA256, &cw->tar_digest, err) < 0 ||
        digester_new(DIGEST_SHA256, &cw->blob_digest, err) < 0)
        return change_writer_free(cw);
    if (cw->gzip) {
        if (deflateInit2(&cw->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            err_make(err, ERR_INTERNAL, 0, "gzip: init failed");
            return change_writer_free(cw);
        }
        cw->z_open = true;
    }
    return cw;
}

int change_writer_finish(struct change_writer *cw, struct compare_result *ret,
                         struct berth_error **err)
{
    static const unsigned char end[2 * BLOCK_SIZE];
    if (emit(cw, end, sizeof(end), err) < 0)
        return -1;
    if (cw->gzip && deflate_out(cw, NULL, 0, Z_FINISH, err) < 0)
        return -1;
    if (flush_out(cw, err) < 0)
        return -1;
    if (!ret)
        return 0;
    memset(ret, 0, sizeof(*ret));
    if (digester_digest(cw->blob_digest, ret->digest, err) < 0 ||
        digester_digest(cw->tar_digest, ret->uncompressed_digest, err) < 0)
        return -1;
    ret->size = cw->blob_size;
    ret->uncompressed_size = cw->tar_size;
    ret->entries = cw->entries;
    return 0;
}

struct change_writer *change_writer_free(struct change_writer *cw)
{
    if (!cw)
        return NULL;
    if (cw->z_open)
        deflateEnd(&cw->z);
    digester_free(cw->tar_digest);
    digester_free(cw->blob_digest);
    path_set_free(cw->added_dirs);
    for (size_t b = 0; b < INODE_BUCKETS; b++) {
        for (struct inode_entry *e = cw->inodes[b], *next; e; e = next) {
            next = e->next;
            free(e->source);
            for (size_t i = 0; i < e->n_refs; i++)
                free(e->refs[i]);
            free(e->refs);
            free(e);
        }
    }
    free(cw);
    return NULL;
}
