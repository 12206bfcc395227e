/* Test helpers for core/diff: in-memory layer tarballs, compression, temporary directories. */
#include "core/diff/test_layers.h"

#include "lib/base/alloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

void test_buf_append(struct test_buf *b, const void *data, size_t len)
{
    b->data = xreallocarray_grow(b->data, &b->cap, b->len + len + 1, 1);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static la_ssize_t write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
    test_buf_append(client, buf, len);
    return (la_ssize_t)len;
}

void test_tar_build(const struct test_entry *entries, struct test_buf *out)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, out, NULL, write_cb, NULL);
    for (const struct test_entry *t = entries; t->name; t++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_copy_pathname(e, t->name);
        mode_t type = t->type ? t->type : S_IFREG;
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, t->perm ? t->perm : (type == S_IFDIR ? 0755 : 0644));
        archive_entry_set_uid(e, t->uid);
        archive_entry_set_gid(e, t->gid);
        archive_entry_set_mtime(e, t->mtime ? t->mtime : 1000000000, 0);
        if (t->atime)
            archive_entry_set_atime(e, t->atime, 0);
        if (t->symlink)
            archive_entry_copy_symlink(e, t->symlink);
        if (t->hardlink)
            archive_entry_copy_hardlink(e, t->hardlink);
        if (type == S_IFCHR || type == S_IFBLK) {
            archive_entry_set_rdevmajor(e, t->dev_major);
            archive_entry_set_rdevminor(e, t->dev_minor);
        }
        if (t->xattr_name)
            archive_entry_xattr_add_entry(e, t->xattr_name, t->xattr_value, t->xattr_len);
        size_t len = t->data ? strlen(t->data) : 0;
        if (type == S_IFREG && !t->hardlink)
            archive_entry_set_size(e, (la_int64_t)len);
        archive_write_header(a, e);
        if (len && !t->hardlink)
            archive_write_data(a, t->data, len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

void test_gzip(const void *data, size_t len, struct test_buf *out)
{
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    size_t bound = deflateBound(&z, (uLong)len) + 64;
    out->data = xreallocarray_grow(out->data, &out->cap, out->len + bound, 1);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out->data + out->len;
    z.avail_out = (uInt)bound;
    deflate(&z, Z_FINISH);
    out->len += bound - z.avail_out;
    deflateEnd(&z);
}

void test_zstd(const void *data, size_t len, struct test_buf *out)
{
    size_t bound = ZSTD_compressBound(len);
    out->data = xreallocarray_grow(out->data, &out->cap, out->len + bound, 1);
    out->len += ZSTD_compress(out->data + out->len, bound, data, len, 3);
}

void test_raw_header(uint8_t block[512], const char *name, char typeflag, const char *size_octal,
                     const char *linkname)
{
    memset(block, 0, 512);
    strncpy((char *)block, name, 100);
    memcpy(block + 100, "0000644", 7);
    memcpy(block + 108, "0000000", 7);
    memcpy(block + 116, "0000000", 7);
    strncpy((char *)block + 124, size_octal, 12);
    memcpy(block + 136, "00000000000", 11);
    block[156] = (uint8_t)typeflag;
    if (linkname)
        strncpy((char *)block + 157, linkname, 100);
    memcpy(block + 257,
           "ustar\0"
           "00",
           8);
    memset(block + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += block[i];
    snprintf((char *)block + 148, 8, "%06o", sum);
}

int test_apply(const char *root, const void *data, size_t len, const struct apply_options *opts,
               struct berth_error **err)
{
    return test_apply_inline(root, data, len, opts, false, err);
}

int test_apply_inline(const char *root, const void *data, size_t len,
                      const struct apply_options *opts, bool keep_inline, struct berth_error **err)
{
    struct layer_reader *r = NULL;
    if (layer_reader_new_memory(data, len, LAYER_GZIP_AUTO, &r, err) < 0)
        return -1;
    if (keep_inline)
        layer_reader_keep_inline(r);
    struct apply_result res;
    int rc = diff_apply(root, r, opts, &res, err);
    struct layer_reader_result lr;
    if (rc == 0)
        rc = layer_reader_finish(r, &lr, err);
    layer_reader_free(r);
    /* whatever failed, diff_apply's decompression thread is gone with the reader */
    if (layer_reader_live_threads() != 0) {
        fprintf(stderr, "test_apply: a decompression thread outlived its reader\n");
        abort();
    }
    return rc;
}

char *test_mkdtemp(const char *what)
{
    char *path = xasprintf("/tmp/berth-diff-%s-XXXXXX", what);
    if (!mkdtemp(path))
        abort();
    return path;
}

void test_rm_rf(const char *path)
{
    char *cmd = xasprintf("rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", path);
    free(cmd);
}

const char *test_read(const char *root, const char *rel)
{
    static char buf[4096];
    char *path = xasprintf("%s/%s", root, rel);
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    free(path);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return buf;
}
