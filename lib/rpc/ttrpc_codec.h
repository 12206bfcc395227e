/* ttrpc wire codec: the 10-byte frame header and the Request, Response and Status messages. */
#pragma once

#include "lib/rpc/metadata.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    TTRPC_HEADER_LEN = 10,
    /* ttrpc's messageLengthMax: the largest frame payload either side accepts. */
    TTRPC_MESSAGE_LENGTH_MAX = 4 << 20,
    /* More metadata entries than this in one Request is treated as malformed. */
    TTRPC_MAX_METADATA = 1024,
};

enum ttrpc_message_type {
    TTRPC_TYPE_REQUEST = 0x1,
    TTRPC_TYPE_RESPONSE = 0x2,
    TTRPC_TYPE_DATA = 0x3,
};

enum {
    TTRPC_FLAG_REMOTE_CLOSED = 0x1, /* Request and Data: no more data from the sender */
    TTRPC_FLAG_REMOTE_OPEN = 0x2,   /* Request: the client will stream Data frames */
    TTRPC_FLAG_NO_DATA = 0x4,       /* Data: the frame carries no message */
};

struct ttrpc_header {
    uint32_t length; /* payload bytes after the header */
    uint32_t stream_id;
    uint8_t type;
    uint8_t flags;
};

void ttrpc_header_encode(uint8_t out[TTRPC_HEADER_LEN], const struct ttrpc_header *header);
void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_header *header);

/* A decoded ttrpc.Request. `payload` points into the buffer that was decoded. */
struct ttrpc_request {
    char *service; /* full proto service name, no leading slash */
    char *method;  /* bare method name */
    const uint8_t *payload;
    size_t payload_len;
    bool has_payload; /* field 3 was present (even if empty) */
    int64_t timeout_nano;
    struct rpc_metadata metadata; /* keys lower-cased */
};

/* A decoded ttrpc.Response with its google.rpc.Status (details are skipped). */
struct ttrpc_response {
    int32_t code;
    char *message;
    const uint8_t *payload;
    size_t payload_len;
    bool has_payload;
};

/*
 * Decoders: return 0, or -1 with *ret_why set to a static description of what is wrong (the
 * struct is then cleared). Strings in a Request must be valid UTF-8 without NUL bytes, as
 * proto3 requires; a status message is taken as it comes (bytes after a NUL are cut).
 */
int ttrpc_request_decode(const uint8_t *data, size_t len, struct ttrpc_request *ret_request,
                         const char **ret_why);
void ttrpc_request_clear(struct ttrpc_request *request);
int ttrpc_response_decode(const uint8_t *data, size_t len, struct ttrpc_response *ret_response,
                          const char **ret_why);
void ttrpc_response_clear(struct ttrpc_response *response);

/*
 * Encoders: return a malloc'd buffer and its length. Empty scalars are left out as proto3 does
 * (so is an empty payload, as ttrpc's Go client does).
 */
uint8_t *ttrpc_request_encode(const char *service, const char *method, const uint8_t *payload,
                              size_t payload_len, int64_t timeout_nano,
                              const struct rpc_metadata *metadata, size_t *ret_len);
/* The status is always present, as ttrpc's server writes it; invalid UTF-8 becomes U+FFFD. */
uint8_t *ttrpc_response_encode(int32_t code, const char *message, const uint8_t *payload,
                               size_t payload_len, size_t *ret_len);

/* Whether [s, s+len) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool ttrpc_utf8_valid(const uint8_t *s, size_t len);
