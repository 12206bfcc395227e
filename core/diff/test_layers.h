/* Test helpers: build layer tarballs in memory (libarchive's writer), compress, make temp dirs. */
#pragma once

#include "core/diff/diff.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct test_buf {
    uint8_t *data;
    size_t len, cap;
};

void test_buf_append(struct test_buf *b, const void *data, size_t len);

/* One entry of a test layer; zero fields take defaults (regular file, 0644, uid 0, mtime 1e9). */
struct test_entry {
    const char *name;
    mode_t type; /* S_IFREG (default), S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO */
    mode_t perm;
    const char *data;
    const char *symlink;
    const char *hardlink;
    uid_t uid;
    gid_t gid;
    unsigned dev_major, dev_minor;
    time_t mtime;
    time_t atime;
    const char *xattr_name;
    const void *xattr_value;
    size_t xattr_len;
};

/* A pax tar of the entries (name NULL ends the list). */
void test_tar_build(const struct test_entry *entries, struct test_buf *out);
/* gzip (zlib) and zstd of data. */
void test_gzip(const void *data, size_t len, struct test_buf *out);
void test_zstd(const void *data, size_t len, struct test_buf *out);
/* A raw ustar header block with a valid checksum; size in octal as given. */
void test_raw_header(uint8_t block[512], const char *name, char typeflag, const char *size_octal,
                     const char *linkname);

/* Applies data (any compression) under root; returns diff_apply's result. */
int test_apply(const char *root, const void *data, size_t len, const struct apply_options *opts,
               struct berth_error **err);
/* The same, decompressing on the calling thread when keep_inline. */
int test_apply_inline(const char *root, const void *data, size_t len,
                      const struct apply_options *opts, bool keep_inline, struct berth_error **err);

/* mkdtemp under /tmp and rm -rf. */
char *test_mkdtemp(const char *what);
void test_rm_rf(const char *path);
/* Reads a small file relative to root into a static buffer; NULL when missing. */
const char *test_read(const char *root, const char *rel);
