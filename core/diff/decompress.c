/* The layer reader: magic detection as containerd's compression package, igzip/zlib/zstd inflate.
 */
#include "core/diff/layer_reader.h"

#include "lib/base/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#ifdef BERTH_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

/* Raw input is pulled in chunks of this size; a little slack lets igzip hand bytes back. */
#define INPUT_SIZE  (256 * 1024)
#define INPUT_SLACK 16

struct layer_reader {
    layer_source_fn source;
    void *opaque;
    enum layer_compression compression;
    enum layer_gzip_backend backend;
    bool started;
    bool source_eof;
    bool member_done; /* gzip: a member ended; another may follow */
    bool stream_end;  /* no more uncompressed bytes */
    size_t zstd_last; /* ZSTD_decompressStream's last hint: 0 at a frame boundary */
    enum err_kind error_kind;
    char *error_message; /* sticky failure */

    uint8_t *in;
    size_t in_pos, in_len;

    struct digester *raw_digest, *plain_digest;
    int64_t raw_size, plain_size;

    z_stream zlib;
    bool zlib_ready;
    ZSTD_DStream *zstd;
#ifdef BERTH_HAVE_ISAL
    struct inflate_state *isal;
#endif

    /* decompression on its own thread (layer_reader_start_thread) */
    struct layer_pipe *pipe;
    bool keep_inline;
    uint8_t *borrow_buf; /* layer_reader_read_borrow without a thread */
    size_t borrow_size;

    /* for the built-in sources */
    int fd;
    const uint8_t *mem;
    size_t mem_len, mem_pos;
};

bool layer_reader_have_igzip(void)
{
#ifdef BERTH_HAVE_ISAL
    return true;
#else
    return false;
#endif
}

const char *layer_compression_name(enum layer_compression c)
{
    switch (c) {
    case LAYER_COMPRESSION_GZIP:
        return "gzip";
    case LAYER_COMPRESSION_ZSTD:
        return "zstd";
    default:
        return "uncompressed";
    }
}

static ssize_t fd_source(void *opaque, void *buf, size_t len)
{
    struct layer_reader *r = opaque;
    for (;;) {
        ssize_t n = read(r->fd, buf, len);
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

static ssize_t memory_source(void *opaque, void *buf, size_t len)
{
    struct layer_reader *r = opaque;
    size_t n = r->mem_len - r->mem_pos;
    if (n > len)
        n = len;
    if (n == 0)
        return 0;
    memcpy(buf, r->mem + r->mem_pos, n);
    r->mem_pos += n;
    return (ssize_t)n;
}

int layer_reader_new(layer_source_fn source, void *opaque, enum layer_gzip_backend backend,
                     struct layer_reader **ret, struct berth_error **err)
{
    if (backend == LAYER_GZIP_IGZIP && !layer_reader_have_igzip())
        return err_make(err, ERR_NOT_IMPLEMENTED, 0, "igzip: not built in");
    struct layer_reader *r = xcalloc(1, sizeof(*r));
    r->source = source;
    r->opaque = opaque;
    r->fd = -1;
    if (backend == LAYER_GZIP_AUTO)
        backend = layer_reader_have_igzip() ? LAYER_GZIP_IGZIP : LAYER_GZIP_ZLIB;
    r->backend = backend;
    r->in = xmalloc(INPUT_SIZE + INPUT_SLACK);
    if (digester_new(DIGEST_SHA256, &r->raw_digest, err) < 0 ||
        digester_new(DIGEST_SHA256, &r->plain_digest, err) < 0) {
        layer_reader_free(r);
        return -1;
    }
    *ret = r;
    return 0;
}

int layer_reader_new_fd(int fd, enum layer_gzip_backend backend, struct layer_reader **ret,
                        struct berth_error **err)
{
    if (layer_reader_new(fd_source, NULL, backend, ret, err) < 0)
        return -1;
    (*ret)->opaque = *ret;
    (*ret)->fd = fd;
    return 0;
}

int layer_reader_new_memory(const void *data, size_t len, enum layer_gzip_backend backend,
                            struct layer_reader **ret, struct berth_error **err)
{
    if (layer_reader_new(memory_source, NULL, backend, ret, err) < 0)
        return -1;
    (*ret)->opaque = *ret;
    (*ret)->mem = data;
    (*ret)->mem_len = len;
    return 0;
}

static void pipe_stop(struct layer_reader *r);

struct layer_reader *layer_reader_free(struct layer_reader *r)
{
    if (!r)
        return NULL;
    pipe_stop(r);
    if (r->zlib_ready)
        inflateEnd(&r->zlib);
    ZSTD_freeDStream(r->zstd);
#ifdef BERTH_HAVE_ISAL
    free(r->isal);
#endif
    digester_free(r->raw_digest);
    digester_free(r->plain_digest);
    free(r->in);
    free(r->borrow_buf);
    free(r->error_message);
    free(r);
    return NULL;
}

enum layer_compression layer_reader_compression(const struct layer_reader *r)
{
    return r->compression;
}

enum layer_gzip_backend layer_reader_gzip_backend(const struct layer_reader *r)
{
    return r->backend;
}

/* Records the first failure so every later call reports it again. */
static int fail(struct layer_reader *r, struct berth_error **err, enum err_kind kind, int errnum,
                const char *what)
{
    if (!r->error_message) {
        struct berth_error *e = NULL;
        err_make(&e, kind, errnum, "%s: %s", layer_compression_name(r->compression), what);
        r->error_kind = e->kind;
        r->error_message = steal_ptr(e->message);
        err_free(e);
    }
    return err_make_raw(err, r->error_kind, r->error_message);
}

/* Pulls more raw bytes behind whatever is unread; returns the count (0 at end) or -1. */
static ssize_t fill(struct layer_reader *r, struct berth_error **err)
{
    if (r->source_eof)
        return 0;
    if (r->in_pos > 0 && r->in_pos == r->in_len)
        r->in_pos = r->in_len = 0;
    if (r->in_pos > 0) {
        memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
        r->in_len -= r->in_pos;
        r->in_pos = 0;
    }
    if (r->in_len >= INPUT_SIZE)
        return 0;
    ssize_t n = r->source(r->opaque, r->in + r->in_len, INPUT_SIZE - r->in_len);
    if (n < 0)
        return fail(r, err, ERR_UNKNOWN, errno, "read layer");
    if (n == 0) {
        r->source_eof = true;
        return 0;
    }
    digester_update(r->raw_digest, r->in + r->in_len, (size_t)n);
    r->raw_size += n;
    r->in_len += (size_t)n;
    return n;
}

static int start(struct layer_reader *r, struct berth_error **err)
{
    r->started = true;
    while (r->in_len < 4 && !r->source_eof)
        if (fill(r, err) < 0)
            return -1;
    const uint8_t *p = r->in;
    if (r->in_len >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 0x08) {
        r->compression = LAYER_COMPRESSION_GZIP;
    } else if (r->in_len >= 4 &&
               ((p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) ||
                ((p[0] & 0xf0) == 0x50 && p[1] == 0x2a && p[2] == 0x4d && p[3] == 0x18))) {
        r->compression = LAYER_COMPRESSION_ZSTD;
        r->zstd = ZSTD_createDStream();
        if (!r->zstd)
            return fail(r, err, ERR_INTERNAL, ENOMEM, "create decoder");
        ZSTD_initDStream(r->zstd);
    }
    if (r->compression != LAYER_COMPRESSION_GZIP)
        return 0;
    if (r->backend == LAYER_GZIP_ZLIB) {
        if (inflateInit2(&r->zlib, 15 + 16) != Z_OK)
            return fail(r, err, ERR_INTERNAL, ENOMEM, "inflateInit");
        r->zlib_ready = true;
    }
#ifdef BERTH_HAVE_ISAL
    else {
        r->isal = xmalloc(sizeof(*r->isal));
        isal_inflate_init(r->isal);
        r->isal->crc_flag = ISAL_GZIP;
    }
#endif
    return 0;
}

/* A gzip member ended: is there another one? Multi-member streams are read whole, as Go does. */
static int next_member(struct layer_reader *r, struct berth_error **err)
{
    if (r->in_pos == r->in_len && fill(r, err) < 0)
        return -1;
    if (r->in_pos == r->in_len) {
        r->stream_end = true;
        return 0;
    }
    r->member_done = false;
    if (r->zlib_ready) {
        inflateReset(&r->zlib);
    }
#ifdef BERTH_HAVE_ISAL
    else {
        isal_inflate_reset(r->isal);
        r->isal->crc_flag = ISAL_GZIP;
    }
#endif
    return 0;
}

static ssize_t inflate_zlib(struct layer_reader *r, uint8_t *out, size_t len,
                            struct berth_error **err)
{
    if (r->in_pos == r->in_len && fill(r, err) < 0)
        return -1;
    bool at_end = r->in_pos == r->in_len;
    r->zlib.next_in = r->in + r->in_pos;
    r->zlib.avail_in = (uInt)(r->in_len - r->in_pos);
    r->zlib.next_out = out;
    r->zlib.avail_out = (uInt)len;
    int rc = inflate(&r->zlib, Z_NO_FLUSH);
    r->in_pos = r->in_len - r->zlib.avail_in;
    if (rc == Z_STREAM_END)
        r->member_done = true;
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
        return fail(r, err, ERR_DATA_LOSS, 0, r->zlib.msg ? r->zlib.msg : "invalid data");
    if (at_end && !r->member_done && r->zlib.avail_out == len)
        return fail(r, err, ERR_DATA_LOSS, 0, "unexpected EOF");
    return (ssize_t)(len - r->zlib.avail_out);
}

#ifdef BERTH_HAVE_ISAL
static ssize_t inflate_isal(struct layer_reader *r, uint8_t *out, size_t len,
                            struct berth_error **err)
{
    struct inflate_state *s = r->isal;
    if (r->in_pos == r->in_len && fill(r, err) < 0)
        return -1;
    bool at_end = r->in_pos == r->in_len;
    s->next_in = r->in + r->in_pos;
    s->avail_in = (uint32_t)(r->in_len - r->in_pos);
    s->next_out = out;
    s->avail_out = (uint32_t)len;
    int rc = isal_inflate(s);
    r->in_pos = r->in_len - s->avail_in;
    if (rc < 0) {
        const char *why = rc == ISAL_INCORRECT_CHECKSUM ? "checksum error"
                          : rc == ISAL_INVALID_WRAPPER  ? "invalid header"
                                                        : "invalid data";
        return fail(r, err, ERR_DATA_LOSS, 0, why);
    }
    if (s->block_state == ISAL_BLOCK_FINISH) {
        /* igzip may hold bytes of the next member in its bit buffer: hand them back. */
        size_t k = (size_t)s->read_in_length / 8;
        uint8_t held[8];
        for (size_t i = 0; i < k; i++)
            held[i] = (uint8_t)(s->read_in >> (8 * i));
        if (r->in_pos < k) {
            memmove(r->in + k, r->in + r->in_pos, r->in_len - r->in_pos);
            r->in_len = r->in_len - r->in_pos + k;
            r->in_pos = k;
        }
        r->in_pos -= k;
        memcpy(r->in + r->in_pos, held, k);
        s->read_in = 0;
        s->read_in_length = 0;
        r->member_done = true;
    } else if (at_end && s->avail_out == len) {
        return fail(r, err, ERR_DATA_LOSS, 0, "unexpected EOF");
    }
    return (ssize_t)(len - s->avail_out);
}
#endif

static ssize_t inflate_zstd(struct layer_reader *r, uint8_t *out, size_t len,
                            struct berth_error **err)
{
    if (r->in_pos == r->in_len && fill(r, err) < 0)
        return -1;
    bool at_end = r->in_pos == r->in_len;
    if (at_end && r->zstd_last == 0) {
        r->stream_end = true;
        return 0;
    }
    ZSTD_inBuffer in = {r->in, r->in_len, r->in_pos};
    ZSTD_outBuffer o = {out, len, 0};
    size_t rc = ZSTD_decompressStream(r->zstd, &o, &in);
    r->in_pos = in.pos;
    if (ZSTD_isError(rc))
        return fail(r, err, ERR_DATA_LOSS, 0, ZSTD_getErrorName(rc));
    r->zstd_last = rc;
    if (at_end && o.pos == 0)
        return fail(r, err, ERR_DATA_LOSS, 0, "unexpected EOF");
    return (ssize_t)o.pos;
}

/* The decompressing read itself: on the caller's thread, or the pipe's producer. */
static ssize_t read_inline(struct layer_reader *r, void *buf, size_t len, struct berth_error **err)
{
    if (r->error_message)
        return err_make_raw(err, r->error_kind, r->error_message);
    if (!r->started && start(r, err) < 0)
        return -1;
    if (len > (1u << 30))
        len = 1u << 30;
    while (len > 0 && !r->stream_end) {
        ssize_t n;
        switch (r->compression) {
        case LAYER_COMPRESSION_NONE:
            if (r->in_pos == r->in_len && fill(r, err) < 0)
                return -1;
            n = (ssize_t)(r->in_len - r->in_pos);
            if (n == 0) {
                r->stream_end = true;
                break;
            }
            if ((size_t)n > len)
                n = (ssize_t)len;
            memcpy(buf, r->in + r->in_pos, (size_t)n);
            r->in_pos += (size_t)n;
            break;
        case LAYER_COMPRESSION_ZSTD:
            n = inflate_zstd(r, buf, len, err);
            break;
        default:
            if (r->member_done) {
                if (next_member(r, err) < 0)
                    return -1;
                n = 0;
                break;
            }
#ifdef BERTH_HAVE_ISAL
            if (r->isal)
                n = inflate_isal(r, buf, len, err);
            else
#endif
                n = inflate_zlib(r, buf, len, err);
            break;
        }
        if (n < 0)
            return -1;
        if (n > 0) {
            digester_update(r->plain_digest, buf, (size_t)n);
            r->plain_size += n;
            return n;
        }
    }
    return 0;
}

/* ---- decompression on its own thread ---- */

/*
 * A ring the producer thread fills with decompressed bytes (reading straight into its free
 * space) and layer_reader_read empties. The producer runs to the end of the stream (digests
 * included) unless told to stop; its failure reaches the reader once the bytes before it are read.
 */
#define PIPE_STEP (128 * 1024)
#define PIPE_WAKE (512 * 1024)

/* decompression threads started and not yet joined */
static size_t live_threads;

size_t layer_reader_live_threads(void)
{
    return __atomic_load_n(&live_threads, __ATOMIC_SEQ_CST);
}

struct layer_pipe {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t readable, writable;
    uint8_t *ring;
    size_t cap, head, count;
    size_t borrowed; /* bytes at head the reader holds (layer_reader_read_borrow) */
    size_t wake;     /* a waiting side is woken once this much is there (or free) */
    bool reader_waiting, writer_waiting;
    bool done, stop;
    struct berth_error *error;
};

static void *pipe_produce(void *arg)
{
    struct layer_reader *r = arg;
    struct layer_pipe *p = r->pipe;
    struct berth_error *error = NULL;
    bool done = false;
    pthread_mutex_lock(&p->lock);
    while (!done && !p->stop) {
        if (p->count == p->cap) {
            /* full: sleep until a good part of it is free again, not for every block read */
            p->writer_waiting = true;
            while (p->cap - p->count < p->wake && !p->stop)
                pthread_cond_wait(&p->writable, &p->lock);
            p->writer_waiting = false;
        }
        if (p->stop)
            break;
        size_t tail = (p->head + p->count) % p->cap;
        size_t room = tail >= p->head ? p->cap - tail : p->head - tail;
        if (room > p->cap - p->count)
            room = p->cap - p->count;
        /* small steps, so the reader starts on the first bytes while the next ones inflate */
        if (room > PIPE_STEP)
            room = PIPE_STEP;
        pthread_mutex_unlock(&p->lock);
        /* only this thread writes past count, and the reader never reads there */
        ssize_t n = read_inline(r, p->ring + tail, room, &error);
        pthread_mutex_lock(&p->lock);
        if (n > 0)
            p->count += (size_t)n;
        else
            done = true;
        if (p->reader_waiting && (p->count >= p->wake || done))
            pthread_cond_signal(&p->readable);
    }
    p->error = error;
    p->done = true;
    pthread_cond_signal(&p->readable);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int layer_reader_start_thread(struct layer_reader *r, size_t buffer_size, struct berth_error **err)
{
    if (r->pipe)
        return 0;
    if (r->started)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "layer reader: already reading");
    struct layer_pipe *p = xcalloc(1, sizeof(*p));
    p->cap = buffer_size ? buffer_size : LAYER_READER_THREAD_BUFFER;
    p->ring = xmalloc(p->cap);
    p->wake = p->cap / 4 < PIPE_WAKE ? p->cap / 4 : PIPE_WAKE;
    if (p->wake == 0)
        p->wake = 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->readable, NULL);
    pthread_cond_init(&p->writable, NULL);
    r->pipe = p;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1024 * 1024);
    int rc = pthread_create(&p->thread, &attr, pipe_produce, r);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        r->pipe = NULL;
        pthread_cond_destroy(&p->readable);
        pthread_cond_destroy(&p->writable);
        pthread_mutex_destroy(&p->lock);
        free(p->ring);
        free(p);
        return err_make(err, ERR_UNKNOWN, rc, "layer reader: start decompression thread");
    }
    __atomic_add_fetch(&live_threads, 1, __ATOMIC_SEQ_CST);
    return 0;
}

void layer_reader_keep_inline(struct layer_reader *r)
{
    r->keep_inline = true;
}

bool layer_reader_kept_inline(const struct layer_reader *r)
{
    return r->keep_inline;
}

static void pipe_consumed(struct layer_pipe *p, size_t n)
{
    p->head = (p->head + n) % p->cap;
    p->count -= n;
    p->borrowed = 0;
    if (p->writer_waiting && p->cap - p->count >= p->wake)
        pthread_cond_signal(&p->writable);
}

/* Waits for bytes; *ret_n of them are at head (contiguous), or 0 at the end or on failure. */
static ssize_t pipe_wait(struct layer_pipe *p, size_t max, struct berth_error **err)
{
    if (p->borrowed) /* the reader is done with what it borrowed last */
        pipe_consumed(p, p->borrowed);
    if (p->count == 0 && !p->done) {
        /* empty: sleep until a good part of it is filled, not for every block inflated */
        p->reader_waiting = true;
        while (p->count < p->wake && !p->done)
            pthread_cond_wait(&p->readable, &p->lock);
        p->reader_waiting = false;
    }
    size_t n = p->count;
    if (n > max)
        n = max;
    if (n > p->cap - p->head)
        n = p->cap - p->head;
    if (n == 0 && p->error)
        return err_make_raw(err, p->error->kind, p->error->message);
    return (ssize_t)n;
}

static ssize_t pipe_read(struct layer_pipe *p, void *buf, size_t len, bool borrow, const void **ret,
                         struct berth_error **err)
{
    pthread_mutex_lock(&p->lock);
    ssize_t n = pipe_wait(p, len, err);
    if (n > 0 && borrow) {
        *ret = p->ring + p->head;
        p->borrowed = (size_t)n;
    } else if (n > 0) {
        memcpy(buf, p->ring + p->head, (size_t)n);
        pipe_consumed(p, (size_t)n);
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* Stops the producer (wherever it is) and joins it; the reader can no longer be read. */
static void pipe_stop(struct layer_reader *r)
{
    struct layer_pipe *p = r->pipe;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->writable);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    __atomic_sub_fetch(&live_threads, 1, __ATOMIC_SEQ_CST);
    pthread_cond_destroy(&p->readable);
    pthread_cond_destroy(&p->writable);
    pthread_mutex_destroy(&p->lock);
    err_free(p->error);
    free(p->ring);
    free(p);
    r->pipe = NULL;
}

ssize_t layer_reader_read(struct layer_reader *r, void *buf, size_t len, struct berth_error **err)
{
    if (r->pipe)
        return pipe_read(r->pipe, buf, len, false, NULL, err);
    return read_inline(r, buf, len, err);
}

ssize_t layer_reader_read_borrow(struct layer_reader *r, size_t max, const void **ret,
                                 struct berth_error **err)
{
    if (r->pipe)
        return pipe_read(r->pipe, NULL, max, true, ret, err);
    if (max > r->borrow_size) {
        free(r->borrow_buf);
        r->borrow_buf = xmalloc(max);
        r->borrow_size = max;
    }
    ssize_t n = read_inline(r, r->borrow_buf, max, err);
    if (n > 0)
        *ret = r->borrow_buf;
    return n;
}

int layer_reader_finish(struct layer_reader *r, struct layer_reader_result *ret,
                        struct berth_error **err)
{
    _cleanup_free_ uint8_t *scratch = xmalloc(64 * 1024);
    for (;;) {
        ssize_t n = layer_reader_read(r, scratch, 64 * 1024, err);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
    }
    /* the producer has reached the end: its digests and sizes are final once it is joined */
    pipe_stop(r);
    struct layer_reader_result res = {.compression = r->compression,
                                      .compressed_size = r->raw_size,
                                      .uncompressed_size = r->plain_size};
    if (digester_digest(r->raw_digest, res.compressed_digest, err) < 0 ||
        digester_digest(r->plain_digest, res.uncompressed_digest, err) < 0)
        return -1;
    *ret = res;
    return 0;
}
