/* Hand-written protobuf for ttrpc's four small messages, bounded against hostile input. */
#include "lib/rpc/ttrpc_codec.h"
#include "lib/base/alloc.h"

#include <string.h>

/* ---- frame header ---- */

void ttrpc_header_encode(uint8_t out[TTRPC_HEADER_LEN], const struct ttrpc_header *header)
{
    out[0] = (uint8_t)(header->length >> 24);
    out[1] = (uint8_t)(header->length >> 16);
    out[2] = (uint8_t)(header->length >> 8);
    out[3] = (uint8_t)header->length;
    out[4] = (uint8_t)(header->stream_id >> 24);
    out[5] = (uint8_t)(header->stream_id >> 16);
    out[6] = (uint8_t)(header->stream_id >> 8);
    out[7] = (uint8_t)header->stream_id;
    out[8] = header->type;
    out[9] = header->flags;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_header *header)
{
    header->length = be32(in);
    header->stream_id = be32(in + 4);
    header->type = in[8];
    header->flags = in[9];
}

/* ---- UTF-8 ---- */

bool ttrpc_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* ---- reading ---- */

enum wire_type { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_BYTES = 2, WIRE_FIXED32 = 5 };

struct pb_reader {
    const uint8_t *p, *end;
    const char *why;
};

struct pb_field {
    uint32_t number;
    int wire;
    uint64_t value;      /* varint and fixed fields */
    const uint8_t *data; /* length-delimited fields */
    size_t len;
};

static int pb_fail(struct pb_reader *r, const char *why)
{
    r->why = why;
    return -1;
}

static int pb_varint(struct pb_reader *r, uint64_t *ret)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p == r->end)
            return pb_fail(r, "truncated varint");
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1)
            return pb_fail(r, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *ret = v;
            return 0;
        }
    }
    return pb_fail(r, "varint overflows 64 bits");
}

/* Returns 1 with the next field, 0 at the end, -1 on malformed input. */
static int pb_next(struct pb_reader *r, struct pb_field *f)
{
    if (r->p == r->end)
        return 0;
    uint64_t key;
    if (pb_varint(r, &key) < 0)
        return -1;
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return pb_fail(r, "invalid field number");
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    size_t left;
    switch (f->wire) {
    case WIRE_VARINT:
        return pb_varint(r, &f->value) < 0 ? -1 : 1;
    case WIRE_FIXED64:
    case WIRE_FIXED32: {
        size_t n = f->wire == WIRE_FIXED64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n)
            return pb_fail(r, "truncated fixed-width field");
        f->value = 0;
        for (size_t i = 0; i < n; i++)
            f->value |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        return 1;
    }
    case WIRE_BYTES:
        if (pb_varint(r, &f->value) < 0)
            return -1;
        left = (size_t)(r->end - r->p);
        if (f->value > left)
            return pb_fail(r, "length-delimited field runs past the end");
        f->data = r->p;
        f->len = (size_t)f->value;
        r->p += f->len;
        return 1;
    default:
        return pb_fail(r, "unsupported wire type");
    }
}

/* A proto3 string for routing or metadata: valid UTF-8 and, for C, no NUL byte. */
static int pb_strict_string(struct pb_reader *r, const struct pb_field *f, char **out)
{
    if (!ttrpc_utf8_valid(f->data, f->len))
        return pb_fail(r, "string field contains invalid UTF-8");
    if (memchr(f->data, '\0', f->len))
        return pb_fail(r, "string field contains a NUL byte");
    free(*out);
    *out = xstrndup((const char *)f->data, f->len);
    return 0;
}

static int decode_key_value(struct pb_reader *outer, const struct pb_field *kv,
                            struct rpc_metadata *md)
{
    struct pb_reader r = {.p = kv->data, .end = kv->data + kv->len};
    _cleanup_free_ char *key = NULL;
    _cleanup_free_ char *value = NULL;
    struct pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f)) > 0) {
        if (f.wire != WIRE_BYTES || (f.number != 1 && f.number != 2))
            continue; /* unknown fields are skipped, as protobuf does */
        if (pb_strict_string(&r, &f, f.number == 1 ? &key : &value) < 0)
            break;
    }
    if (r.why)
        return pb_fail(outer, r.why);
    if (md->count >= TTRPC_MAX_METADATA)
        return pb_fail(outer, "too many metadata entries");
    rpc_metadata_add(md, key ? key : "", value ? value : "");
    return 0;
}

int ttrpc_request_decode(const uint8_t *data, size_t len, struct ttrpc_request *ret_request,
                         const char **ret_why)
{
    struct ttrpc_request *req = ret_request;
    memset(req, 0, sizeof(*req));
    static const uint8_t nothing[1];
    if (!data)
        data = nothing, len = 0;
    struct pb_reader r = {.p = data, .end = data + len};
    struct pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f)) > 0) {
        bool bytes = f.wire == WIRE_BYTES;
        if (f.number == 1 && bytes)
            rc = pb_strict_string(&r, &f, &req->service);
        else if (f.number == 2 && bytes)
            rc = pb_strict_string(&r, &f, &req->method);
        else if (f.number == 3 && bytes) {
            req->payload = f.data;
            req->payload_len = f.len;
            req->has_payload = true;
        } else if (f.number == 4 && f.wire == WIRE_VARINT)
            req->timeout_nano = (int64_t)f.value;
        else if (f.number == 5 && bytes)
            rc = decode_key_value(&r, &f, &req->metadata);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        *ret_why = r.why;
        ttrpc_request_clear(req);
        return -1;
    }
    if (!req->service)
        req->service = xstrdup("");
    if (!req->method)
        req->method = xstrdup("");
    return 0;
}

void ttrpc_request_clear(struct ttrpc_request *request)
{
    free(request->service);
    free(request->method);
    rpc_metadata_clear(&request->metadata);
    memset(request, 0, sizeof(*request));
}

static int decode_status(struct pb_reader *outer, const struct pb_field *sf,
                         struct ttrpc_response *resp)
{
    struct pb_reader r = {.p = sf->data, .end = sf->data + sf->len};
    struct pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f)) > 0) {
        if (f.number == 1 && f.wire == WIRE_VARINT) {
            resp->code = (int32_t)(uint32_t)f.value;
        } else if (f.number == 2 && f.wire == WIRE_BYTES) {
            free(resp->message);
            resp->message = xstrndup((const char *)f.data, f.len);
        }
        /* details (3) and unknown fields are skipped */
    }
    return rc < 0 ? pb_fail(outer, r.why) : 0;
}

int ttrpc_response_decode(const uint8_t *data, size_t len, struct ttrpc_response *ret_response,
                          const char **ret_why)
{
    struct ttrpc_response *resp = ret_response;
    memset(resp, 0, sizeof(*resp));
    static const uint8_t nothing[1];
    if (!data)
        data = nothing, len = 0;
    struct pb_reader r = {.p = data, .end = data + len};
    struct pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f)) > 0) {
        if (f.wire != WIRE_BYTES)
            continue;
        if (f.number == 1) {
            rc = decode_status(&r, &f, resp);
        } else if (f.number == 2) {
            resp->payload = f.data;
            resp->payload_len = f.len;
            resp->has_payload = true;
        }
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        *ret_why = r.why;
        ttrpc_response_clear(resp);
        return -1;
    }
    if (!resp->message)
        resp->message = xstrdup("");
    return 0;
}

void ttrpc_response_clear(struct ttrpc_response *response)
{
    free(response->message);
    memset(response, 0, sizeof(*response));
}

/* ---- writing ---- */

struct pb_writer {
    uint8_t *data;
    size_t len, cap;
};

static void pb_reserve(struct pb_writer *w, size_t n)
{
    if (w->cap - w->len >= n)
        return;
    size_t cap = w->cap ? w->cap : 64;
    while (cap - w->len < n)
        cap *= 2;
    w->data = xrealloc(w->data, cap);
    w->cap = cap;
}

static void pb_put_varint(struct pb_writer *w, uint64_t v)
{
    pb_reserve(w, 10);
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        w->data[w->len++] = v ? (uint8_t)(b | 0x80) : b;
    } while (v);
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void pb_put_bytes(struct pb_writer *w, uint32_t field, const void *data, size_t len)
{
    pb_put_varint(w, (uint64_t)field << 3 | WIRE_BYTES);
    pb_put_varint(w, len);
    pb_reserve(w, len);
    if (len)
        memcpy(w->data + w->len, data, len);
    w->len += len;
}

static void pb_put_string(struct pb_writer *w, uint32_t field, const char *s)
{
    if (s && *s)
        pb_put_bytes(w, field, s, strlen(s));
}

uint8_t *ttrpc_request_encode(const char *service, const char *method, const uint8_t *payload,
                              size_t payload_len, int64_t timeout_nano,
                              const struct rpc_metadata *metadata, size_t *ret_len)
{
    struct pb_writer w = {0};
    pb_reserve(&w, 64 + payload_len);
    pb_put_string(&w, 1, service);
    pb_put_string(&w, 2, method);
    if (payload_len)
        pb_put_bytes(&w, 3, payload, payload_len);
    if (timeout_nano) {
        pb_put_varint(&w, 4 << 3 | WIRE_VARINT);
        pb_put_varint(&w, (uint64_t)timeout_nano);
    }
    for (size_t i = 0; metadata && i < metadata->count; i++) {
        const char *k = metadata->entries[i].key, *v = metadata->entries[i].value;
        size_t klen = strlen(k), vlen = strlen(v);
        size_t inner =
            (klen ? 1 + varint_size(klen) + klen : 0) + (vlen ? 1 + varint_size(vlen) + vlen : 0);
        pb_put_varint(&w, 5 << 3 | WIRE_BYTES);
        pb_put_varint(&w, inner);
        pb_put_string(&w, 1, k);
        pb_put_string(&w, 2, v);
    }
    if (!w.data)
        w.data = xmalloc(1);
    *ret_len = w.len;
    return w.data;
}

/* Copies s, replacing each byte that does not start a valid UTF-8 sequence with U+FFFD. */
static char *utf8_sanitize(const char *s)
{
    size_t n = strlen(s);
    if (ttrpc_utf8_valid((const uint8_t *)s, n))
        return xstrdup(s);
    char *out = xmalloc(n * 3 + 1), *p = out;
    for (size_t i = 0; i < n;) {
        size_t take = 1;
        for (size_t k = 4; k >= 1; k--) {
            if (i + k <= n && ttrpc_utf8_valid((const uint8_t *)s + i, k)) {
                take = k;
                break;
            }
        }
        if (take == 1 && (unsigned char)s[i] >= 0x80) {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
        } else {
            memcpy(p, s + i, take);
            p += take;
        }
        i += take;
    }
    *p = '\0';
    return out;
}

uint8_t *ttrpc_response_encode(int32_t code, const char *message, const uint8_t *payload,
                               size_t payload_len, size_t *ret_len)
{
    _cleanup_free_ char *msg = utf8_sanitize(message ? message : "");
    size_t msg_len = strlen(msg);
    uint64_t code_v = (uint64_t)(int64_t)code; /* int32 is sign-extended on the wire */
    size_t status_len =
        (code ? 1 + varint_size(code_v) : 0) + (msg_len ? 1 + varint_size(msg_len) + msg_len : 0);
    struct pb_writer w = {0};
    pb_reserve(&w, 16 + status_len + payload_len);
    pb_put_varint(&w, 1 << 3 | WIRE_BYTES);
    pb_put_varint(&w, status_len);
    if (code) {
        pb_put_varint(&w, 1 << 3 | WIRE_VARINT);
        pb_put_varint(&w, code_v);
    }
    pb_put_string(&w, 2, msg);
    if (payload_len)
        pb_put_bytes(&w, 2, payload, payload_len);
    *ret_len = w.len;
    return w.data;
}
