/* The walking differ's Compare: a double walk of two trees written as a (gzip) OCI layer tar. */
#include "core/diff/compare.h"

#include "core/diff/diff-internal.h"
#include "lib/base/alloc.h"

#include <dirent.h>
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

#define BLOCK_SIZE       512
#define OUT_BUF_SIZE     (64 * 1024)
#define INODE_BUCKETS    1024
#define CAPABILITY_XATTR "security.capability"
#define MAX_CAPABILITY   1024

enum change_kind { CHANGE_ADD, CHANGE_MODIFY, CHANGE_DELETE, CHANGE_UNMODIFIED };

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

static char *join(const char *a, const char *b)
{
    char *s;
    if (asprintf(&s, "%s%s%s", a, *a && *b ? "/" : "", b) < 0)
        abort();
    return s;
}

static int handle_change(struct change_writer *cw, enum change_kind kind, const char *path,
                         const struct stat *st, struct berth_error **err);

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
            _cleanup_free_ char *full = join(cw->upper, parent);
            struct stat st;
            if (stat(full, &st) < 0)
                return err_make(err, ERR_UNKNOWN, errno, "stat %s", full);
            if (handle_change(cw, CHANGE_MODIFY, parent, &st, err) < 0)
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

static int handle_change(struct change_writer *cw, enum change_kind kind, const char *path,
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
    _cleanup_free_ char *full = join(cw->upper, path);
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

/* ---- the double walk (continuity's doubleWalkDiff, as a merge of sorted directories) ---- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The names in dir, sorted bytewise as filepath.Walk reads them. */
static int list_dir(const char *dir, char ***ret, size_t *ret_n, struct berth_error **err)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_make(err, ERR_UNKNOWN, errno, "open %s", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = xstrdup(de->d_name);
    }
    int saved = errno;
    closedir(d);
    if (saved) {
        free_names(names, n);
        return err_make(err, ERR_UNKNOWN, saved, "read %s", dir);
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_name);
    *ret = names;
    *ret_n = n;
    return 0;
}

static int compare_content(const char *p1, const char *p2, bool *ret_same, struct berth_error **err)
{
    _cleanup_close_ int f1 = open(p1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (f1 < 0)
        return err_make(err, ERR_UNKNOWN, errno, "open %s", p1);
    _cleanup_close_ int f2 = open(p2, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (f2 < 0)
        return err_make(err, ERR_UNKNOWN, errno, "open %s", p2);
    static __thread unsigned char b1[32 * 1024], b2[32 * 1024];
    for (;;) {
        ssize_t n1 = read(f1, b1, sizeof(b1));
        if (n1 < 0)
            return err_make(err, ERR_UNKNOWN, errno, "read %s", p1);
        size_t got = 0;
        while (got < (size_t)n1 || n1 == 0) {
            ssize_t n2 = read(f2, b2 + got, (size_t)(n1 ? n1 : 1) - got);
            if (n2 < 0)
                return err_make(err, ERR_UNKNOWN, errno, "read %s", p2);
            if (n2 == 0)
                break;
            got += (size_t)n2;
            if (n1 == 0)
                break;
        }
        if (got != (size_t)n1 || memcmp(b1, b2, got) != 0) {
            *ret_same = false;
            return 0;
        }
        if (n1 == 0) {
            *ret_same = true;
            return 0;
        }
    }
}

static int get_capability(const char *path, char *buf, ssize_t *ret_len, struct berth_error **err)
{
    ssize_t n = lgetxattr(path, CAPABILITY_XATTR, buf, MAX_CAPABILITY);
    if (n < 0 && errno != ENODATA && errno != ENOTSUP)
        return err_make(err, ERR_UNKNOWN, errno, "failed to get xattr for %s", path);
    *ret_len = n < 0 ? 0 : n;
    return 0;
}

/* continuity's sameFile: type/mode/owner/rdev, capabilities, then size, mtime, content. */
static int same_file(const char *p1, const struct stat *s1, const char *p2, const struct stat *s2,
                     bool *ret_same, struct berth_error **err)
{
    *ret_same = true;
    if (s1->st_dev == s2->st_dev && s1->st_ino == s2->st_ino)
        return 0;
    *ret_same = false;
    if (s1->st_mode != s2->st_mode || s1->st_uid != s2->st_uid || s1->st_gid != s2->st_gid ||
        s1->st_rdev != s2->st_rdev)
        return 0;
    char c1[MAX_CAPABILITY], c2[MAX_CAPABILITY];
    ssize_t l1, l2;
    if (get_capability(p1, c1, &l1, err) < 0 || get_capability(p2, c2, &l2, err) < 0)
        return -1;
    if (l1 != l2 || memcmp(c1, c2, (size_t)l1) != 0)
        return 0;
    if (S_ISDIR(s1->st_mode)) {
        *ret_same = true;
        return 0;
    }
    if (s1->st_size != s2->st_size || s1->st_mtim.tv_sec != s2->st_mtim.tv_sec)
        return 0;
    if (s1->st_mtim.tv_nsec == 0 && s2->st_mtim.tv_nsec == 0) {
        /* Whole-second times (tar-extracted, some filesystems) say too little: compare data. */
        if (S_ISLNK(s1->st_mode)) {
            char t1[PATH_MAX + 1], t2[PATH_MAX + 1];
            ssize_t n1 = readlink(p1, t1, sizeof(t1)), n2 = readlink(p2, t2, sizeof(t2));
            if (n1 < 0 || n2 < 0)
                return err_make(err, ERR_UNKNOWN, errno, "readlink %s", n1 < 0 ? p1 : p2);
            *ret_same = n1 == n2 && memcmp(t1, t2, (size_t)n1) == 0;
            return 0;
        }
        if (s1->st_size == 0) {
            *ret_same = true;
            return 0;
        }
        return compare_content(p1, p2, ret_same, err);
    }
    *ret_same = s1->st_mtim.tv_nsec == s2->st_mtim.tv_nsec;
    return 0;
}

/* Compares directory rel of upper with the same of lower (lower_dir false: all additions). */
static int walk_dir(struct change_writer *cw, const char *lower, const char *rel, bool lower_dir,
                    struct berth_error **err)
{
    _cleanup_free_ char *udir = join(cw->upper, rel);
    char **unames = NULL, **lnames = NULL;
    size_t nu = 0, nl = 0;
    if (list_dir(udir, &unames, &nu, err) < 0)
        return -1;
    if (lower_dir) {
        _cleanup_free_ char *ldir = join(lower, rel);
        if (list_dir(ldir, &lnames, &nl, err) < 0) {
            free_names(unames, nu);
            return -1;
        }
    }
    int rc = 0;
    size_t i = 0, j = 0;
    while (rc == 0 && (i < nl || j < nu)) {
        int c = i >= nl ? 1 : j >= nu ? -1 : strcmp(lnames[i], unames[j]);
        const char *base = c < 0 ? lnames[i] : unames[j];
        _cleanup_free_ char *path = join(rel, base);
        _cleanup_free_ char *upath = join(cw->upper, path);
        struct stat ust, lst;
        if (c < 0) {
            rc = handle_change(cw, CHANGE_DELETE, path, NULL, err);
            i++;
            continue;
        }
        if (lstat(upath, &ust) < 0) {
            rc = err_make(err, ERR_UNKNOWN, errno, "lstat %s", upath);
            break;
        }
        if (c > 0) {
            j++;
            rc = handle_change(cw, CHANGE_ADD, path, &ust, err);
            if (rc == 0 && S_ISDIR(ust.st_mode))
                rc = walk_dir(cw, lower, path, false, err);
            continue;
        }
        i++;
        j++;
        _cleanup_free_ char *lpath = join(lower, path);
        if (lstat(lpath, &lst) < 0) {
            rc = err_make(err, ERR_UNKNOWN, errno, "lstat %s", lpath);
            break;
        }
        bool same;
        rc = same_file(lpath, &lst, upath, &ust, &same, err);
        if (rc < 0)
            break;
        if (!same)
            rc = handle_change(cw, CHANGE_MODIFY, path, &ust, err);
        else if (!S_ISDIR(ust.st_mode) && ust.st_nlink > 1)
            rc = handle_change(cw, CHANGE_UNMODIFIED, path, &ust, err);
        if (rc == 0 && S_ISDIR(ust.st_mode))
            rc = walk_dir(cw, lower, path, S_ISDIR(lst.st_mode), err);
    }
    free_names(unames, nu);
    free_names(lnames, nl);
    return rc;
}

int diff_compare_media_type(const char *media_type, bool *ret_gzip, struct berth_error **err)
{
    if (!media_type || !*media_type || strcmp(media_type, DIFF_MEDIA_TYPE_LAYER_GZIP) == 0)
        *ret_gzip = true;
    else if (strcmp(media_type, DIFF_MEDIA_TYPE_LAYER) == 0)
        *ret_gzip = false;
    else
        return err_make(err, ERR_NOT_IMPLEMENTED, 0, "unsupported diff media type: %s", media_type);
    return 0;
}

int diff_compare(const char *lower, const char *upper, const struct compare_options *opts,
                 diff_write_fn write, void *opaque, struct compare_result *ret,
                 struct berth_error **err)
{
    static const struct compare_options defaults = {.gzip = true};
    struct change_writer *cw = xcalloc(1, sizeof(*cw));
    cw->upper = upper;
    cw->opts = opts ? opts : &defaults;
    cw->gzip = cw->opts->gzip;
    cw->write = write;
    cw->opaque = opaque;
    cw->added_dirs = path_set_new();
    int rc = digester_new(DIGEST_SHA256, &cw->tar_digest, err);
    if (rc == 0)
        rc = digester_new(DIGEST_SHA256, &cw->blob_digest, err);
    if (rc == 0 && cw->gzip) {
        if (deflateInit2(&cw->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            rc = err_make(err, ERR_INTERNAL, 0, "gzip: init failed");
        else
            cw->z_open = true;
    }
    if (rc == 0) {
        struct stat st;
        bool lower_dir = lower && stat(lower, &st) == 0 && S_ISDIR(st.st_mode);
        if (lower && !lower_dir)
            rc = err_make(err, ERR_INVALID_ARGUMENT, errno, "lower %s is not a directory", lower);
        else
            rc = walk_dir(cw, lower ? lower : "", "", lower_dir, err);
    }
    if (rc == 0) {
        static const unsigned char end[2 * BLOCK_SIZE];
        rc = emit(cw, end, sizeof(end), err);
    }
    if (rc == 0 && cw->gzip)
        rc = deflate_out(cw, NULL, 0, Z_FINISH, err);
    if (rc == 0)
        rc = flush_out(cw, err);
    if (rc == 0 && ret) {
        memset(ret, 0, sizeof(*ret));
        rc = digester_digest(cw->blob_digest, ret->digest, err);
        if (rc == 0)
            rc = digester_digest(cw->tar_digest, ret->uncompressed_digest, err);
        ret->size = cw->blob_size;
        ret->uncompressed_size = cw->tar_size;
        ret->entries = cw->entries;
    }
    if (rc < 0)
        err_wrap(err, "failed to create diff tar stream");
    if (cw->z_open)
        deflateEnd(&cw->z);
    digester_free(cw->tar_digest);
    digester_free(cw->blob_digest);
    path_set_free(cw->added_dirs);
    for (size_t b = 0; b < INODE_BUCKETS; b++) {
        for (struct inode_entry *e = cw->inodes[b], *next; e; e = next) {
            next = e->next;
            free(e->source);
            free_names(e->refs, e->n_refs);
            free(e);
        }
    }
    free(cw);
    return rc;
}
