/* Prints gunzip throughput of the layer reader with igzip and with zlib (for bench/run.sh). */
#include "core/diff/layer_reader.h"

#include "lib/base/alloc.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Usage: gunzip-speed [FILE.gz]; without a file, 64 MiB of tar-like text is made and gzipped. */
static uint8_t *make_input(size_t *ret_len, size_t *ret_plain)
{
    size_t plain_len = 64u << 20;
    uint8_t *plain = xmalloc(plain_len);
    uint32_t x = 12345;
    for (size_t i = 0; i < plain_len; i++) {
        x = x * 1103515245u + 12345u;
        /* mostly text with some noise, compressing about 3:1 like binaries and libraries */
        plain[i] = (x >> 24) < 64 ? (uint8_t)(x >> 16) : (uint8_t)("usr/lib/x86_64 "[i % 15]);
    }
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    size_t bound = deflateBound(&z, (uLong)plain_len);
    uint8_t *out = xmalloc(bound);
    z.next_in = plain;
    z.avail_in = (uInt)plain_len;
    z.next_out = out;
    z.avail_out = (uInt)bound;
    deflate(&z, Z_FINISH);
    *ret_len = bound - z.avail_out;
    *ret_plain = plain_len;
    deflateEnd(&z);
    free(plain);
    return out;
}

static uint8_t *read_file(const char *path, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(path);
        exit(1);
    }
    uint8_t *data = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *ret_len = got;
    return data;
}

static double run(const uint8_t *data, size_t len, enum layer_gzip_backend backend,
                  int64_t *ret_plain)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct layer_reader *r = NULL;
    struct berth_error *err = NULL;
    struct layer_reader_result res;
    if (layer_reader_new_memory(data, len, backend, &r, &err) < 0 ||
        layer_reader_finish(r, &res, &err) < 0) {
        fprintf(stderr, "gunzip-speed: %s\n", err->message);
        exit(1);
    }
    layer_reader_free(r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *ret_plain = res.uncompressed_size;
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
    size_t len, plain_len = 0;
    uint8_t *data = argc > 1 ? read_file(argv[1], &len) : make_input(&len, &plain_len);
    /* Throughput is counted in uncompressed bytes; digests of both sides are included. */
    const struct {
        const char *name;
        enum layer_gzip_backend backend;
    } backends[] = {{"igzip", LAYER_GZIP_IGZIP}, {"zlib", LAYER_GZIP_ZLIB}};
    for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
        if (backends[i].backend == LAYER_GZIP_IGZIP && !layer_reader_have_igzip()) {
            printf("igzip: not built in\n");
            continue;
        }
        double best = 1e9;
        int64_t out = 0;
        for (int rep = 0; rep < 3; rep++) {
            double t = run(data, len, backends[i].backend, &out);
            if (t < best)
                best = t;
        }
        printf("%s: %.1f MiB/s (%lld bytes from %zu)\n", backends[i].name,
               (double)out / (1 << 20) / best, (long long)out, len);
    }
    free(data);
    return 0;
}
