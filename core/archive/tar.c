/* Tar headers byte for byte as Go's archive/tar Writer produces them for containerd's exporter. */
#include "core/archive/archive-internal.h"
#include "lib/base/alloc.h"

#include <stdio.h>
#include <string.h>

#define BLOCK       512
#define NAME_SIZE   100
#define PREFIX_SIZE 155

/* formatter.formatOctal: zero-padded octal, then a NUL, filling the field. */
static void put_octal(char *field, size_t len, int64_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof(digits), "%llo", (unsigned long long)v);
    size_t pad = len - 1 > (size_t)n ? len - 1 - (size_t)n : 0;
    memset(field, '0', pad);
    memcpy(field + pad, digits, (size_t)n);
    field[len - 1] = '\0';
}

static bool fits_octal(size_t len, int64_t v)
{
    /* len-1 octal digits. */
    return v >= 0 && (len - 1 >= 21 || v < (int64_t)1 << (3 * (len - 1)));
}

/* formatter.formatString: copies what fits, NUL-terminating when there is room. */
static void put_string(char *field, size_t len, const char *s)
{
    size_t n = strlen(s);
    memcpy(field, s, n < len ? n : len);
    if (n < len)
        field[n] = '\0';
}

/* templateV7Plus + setFormat(USTAR/PAX): the header block with a computed checksum. */
static void fill_block(char block[BLOCK], const char *name, const char *prefix, unsigned mode,
                       int64_t size, char typeflag)
{
    memset(block, 0, BLOCK);
    put_string(block, NAME_SIZE, name);
    put_octal(block + 100, 8, mode);
    put_octal(block + 108, 8, 0);                                /* uid */
    put_octal(block + 116, 8, 0);                                /* gid */
    put_octal(block + 124, 12, fits_octal(12, size) ? size : 0); /* size */
    put_octal(block + 136, 12, 0);                               /* zero ModTime as Unix 0 */
    block[156] = typeflag;
    memcpy(block + 257,
           "ustar\0"
           "00",
           8);
    put_octal(block + 329, 8, 0); /* devmajor */
    put_octal(block + 337, 8, 0); /* devminor */
    put_string(block + 345, PREFIX_SIZE, prefix);
    unsigned sum = 0;
    memset(block + 148, ' ', 8);
    for (size_t i = 0; i < BLOCK; i++)
        sum += (unsigned char)block[i];
    put_octal(block + 148, 7, sum);
    block[155] = ' ';
}

/* splitUSTARPath: a prefix/name split at a "/" when the name is too long for one field. */
static bool split_ustar_path(const char *name, size_t *ret_split)
{
    size_t length = strlen(name);
    if (length <= NAME_SIZE)
        return false;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p >= 0x80)
            return false;
    size_t total = length;
    if (length > PREFIX_SIZE + 1)
        length = PREFIX_SIZE + 1;
    else if (name[length - 1] == '/')
        length--;
    ssize_t i = -1;
    for (size_t j = 0; j < length; j++)
        if (name[j] == '/')
            i = (ssize_t)j;
    if (i <= 0)
        return false;
    size_t nlen = total - (size_t)i - 1, plen = (size_t)i;
    if (nlen > NAME_SIZE || nlen == 0 || plen > PREFIX_SIZE)
        return false;
    *ret_split = (size_t)i;
    return true;
}

/* formatPAXRecord: "<len> <key>=<value>\n" where len counts itself. */
static char *pax_record(const char *key, const char *value)
{
    size_t size = strlen(key) + strlen(value) + 3;
    char digits[24];
    size += (size_t)snprintf(digits, sizeof(digits), "%zu", size);
    char *rec = xasprintf("%zu %s=%s\n", size, key, value);
    if (strlen(rec) != size) {
        size = strlen(rec);
        free(rec);
        rec = xasprintf("%zu %s=%s\n", size, key, value);
    }
    return rec;
}

int archive_tar_write_padding(archive_write_fn write, void *arg, int64_t size,
                              struct berth_error **err)
{
    static const char zeros[BLOCK];
    size_t rem = (size_t)(size % BLOCK);
    return rem ? write(arg, zeros, BLOCK - rem, err) : 0;
}

int archive_tar_write_end(archive_write_fn write, void *arg, struct berth_error **err)
{
    static const char zeros[2 * BLOCK];
    return write(arg, zeros, sizeof(zeros), err);
}

int archive_tar_write_header(archive_write_fn write, void *arg, const char *name, unsigned mode,
                             int64_t size, char typeflag, struct berth_error **err)
{
    char block[BLOCK];
    size_t split = 0;
    bool long_name = strlen(name) > NAME_SIZE;
    if (long_name && split_ustar_path(name, &split)) {
        _cleanup_free_ char *prefix = xstrndup(name, split);
        if (fits_octal(12, size)) {
            fill_block(block, name + split + 1, prefix, mode, size, typeflag);
            return write(arg, block, BLOCK, err);
        }
    }
    if (!long_name && fits_octal(12, size)) {
        fill_block(block, name, "", mode, size, typeflag);
        return write(arg, block, BLOCK, err);
    }
    /* PAX: an extended header "<dir>/PaxHeaders.0/<base>" with sorted records, then the entry. */
    _cleanup_free_ char *records = xstrdup("");
    if (long_name) {
        _cleanup_free_ char *rec = pax_record("path", name);
        char *joined = xasprintf("%s%s", records, rec);
        free(records);
        records = joined;
    }
    if (!fits_octal(12, size)) {
        char value[24];
        snprintf(value, sizeof(value), "%lld", (long long)size);
        _cleanup_free_ char *rec = pax_record("size", value);
        char *joined = xasprintf("%s%s", records, rec);
        free(records);
        records = joined;
    }
    const char *slash = strrchr(name, '/');
    _cleanup_free_ char *xname = NULL;
    if (slash && slash[1] == '\0') {
        /* path.Split keeps the trailing slash on the directory part: the file part is empty. */
        xname = xasprintf("%.*sPaxHeaders.0", (int)(slash - name + 1), name);
    } else if (slash) {
        xname = xasprintf("%.*s/PaxHeaders.0/%s", (int)(slash - name), name, slash + 1);
    } else {
        xname = xasprintf("PaxHeaders.0/%s", name);
    }
    if (strlen(xname) > NAME_SIZE)
        xname[NAME_SIZE] = '\0';
    size_t xlen = strlen(xname);
    while (xlen > 0 && xname[xlen - 1] == '/')
        xname[--xlen] = '\0';
    size_t rlen = strlen(records);
    fill_block(block, xname, "", 0, (int64_t)rlen, 'x');
    if (write(arg, block, BLOCK, err) < 0 || write(arg, records, rlen, err) < 0 ||
        archive_tar_write_padding(write, arg, (int64_t)rlen, err) < 0)
        return -1;
    fill_block(block, name, "", mode, size, typeflag);
    return write(arg, block, BLOCK, err);
}
