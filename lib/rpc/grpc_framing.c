/* gRPC message framing and grpc-timeout values. */
#include "lib/rpc/grpc_framing.h"
#include "lib/base/alloc.h"
#include "lib/rpc/call_internal.h"

#include <stdio.h>
#include <string.h>

void grpc_reader_init(struct grpc_reader *r, size_t max_len)
{
    memset(r, 0, sizeof(*r));
    r->max_len = max_len;
}

void grpc_reader_reset(struct grpc_reader *r)
{
    free(r->message);
    r->message = NULL;
    r->prefix_have = r->message_len = r->message_have = 0;
}

bool grpc_reader_partial(const struct grpc_reader *r)
{
    return r->prefix_have > 0;
}

int grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t len,
                     void (*deliver)(void *arg, uint8_t *data, size_t len), void *arg)
{
    while (len > 0) {
        if (r->prefix_have < GRPC_PREFIX_LEN) {
            size_t take = GRPC_PREFIX_LEN - r->prefix_have;
            if (take > len)
                take = len;
            memcpy(r->prefix + r->prefix_have, data, take);
            r->prefix_have += take;
            data += take;
            len -= take;
            if (r->prefix_have < GRPC_PREFIX_LEN)
                break;
            uint32_t n = (uint32_t)r->prefix[1] << 24 | (uint32_t)r->prefix[2] << 16 |
                         (uint32_t)r->prefix[3] << 8 | r->prefix[4];
            if (r->prefix[0] & 1)
                return GRPC_READER_COMPRESSED;
            if (n > r->max_len) {
                r->rejected_len = n;
                return GRPC_READER_TOO_LARGE;
            }
            r->message_len = n;
            r->message_have = 0;
            r->message = xmalloc(n ? n : 1);
        }
        size_t take = r->message_len - r->message_have;
        if (take > len)
            take = len;
        memcpy(r->message + r->message_have, data, take);
        r->message_have += take;
        data += take;
        len -= take;
        if (r->message_have == r->message_len) {
            uint8_t *msg = r->message;
            r->message = NULL;
            r->prefix_have = 0;
            deliver(arg, msg, r->message_len);
        }
    }
    return GRPC_READER_OK;
}

void grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], size_t len)
{
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

long long grpc_timeout_parse(const char *value)
{
    size_t n = strlen(value);
    if (n < 2 || n > 9)
        return -1;
    long long v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (value[i] < '0' || value[i] > '9')
            return -1;
        v = v * 10 + (value[i] - '0');
    }
    long long unit;
    switch (value[n - 1]) {
    case 'H':
        unit = 3600LL * 1000000000LL;
        break;
    case 'M':
        unit = 60LL * 1000000000LL;
        break;
    case 'S':
        unit = 1000000000LL;
        break;
    case 'm':
        unit = 1000000LL;
        break;
    case 'u':
        unit = 1000LL;
        break;
    case 'n':
        unit = 1;
        break;
    default:
        return -1;
    }
    /* 8 digits of hours still fit: 99999999 * 3.6e12 < 2^63 */
    return v * unit;
}

void grpc_timeout_format(long long ns, char out[32])
{
    static const struct {
        long long unit;
        char c;
    } units[] = {{1, 'n'},
                 {1000, 'u'},
                 {1000000, 'm'},
                 {1000000000LL, 'S'},
                 {60000000000LL, 'M'},
                 {3600000000000LL, 'H'}};
    if (ns <= 0)
        ns = 1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        long long v = (ns + units[i].unit - 1) / units[i].unit;
        if (v <= 99999999) {
            snprintf(out, 32, "%lld%c", v, units[i].c);
            return;
        }
    }
    snprintf(out, 32, "99999999H");
}

size_t rpc_call_fill_grpc_frames(struct rpc_call *call, struct rpc_buffer **current,
                                 size_t *current_off, uint8_t *buf, size_t len)
{
    size_t written = 0;
    while (written < len) {
        if (!*current) {
            *current = rpc_buffer_queue_pop(&call->out);
            *current_off = 0;
            if (!*current)
                break;
            pthread_cond_broadcast(&call->cond); /* room for blocked senders */
        }
        struct rpc_buffer *b = *current;
        size_t total = b->len + GRPC_PREFIX_LEN;
        while (written < len && *current_off < total) {
            uint8_t prefix[GRPC_PREFIX_LEN];
            const uint8_t *src;
            size_t avail;
            if (*current_off < GRPC_PREFIX_LEN) {
                grpc_prefix_write(prefix, b->len);
                src = prefix + *current_off;
                avail = GRPC_PREFIX_LEN - *current_off;
            } else {
                src = b->data + (*current_off - GRPC_PREFIX_LEN);
                avail = total - *current_off;
            }
            size_t take = avail < len - written ? avail : len - written;
            memcpy(buf + written, src, take);
            written += take;
            *current_off += take;
        }
        if (*current_off == total) {
            free(b->data);
            free(b);
            *current = NULL;
        }
    }
    return written;
}
