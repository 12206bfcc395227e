/* gRPC's length-prefixed message framing (1 flag byte + 4-byte big-endian length). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { GRPC_PREFIX_LEN = 5 };

enum grpc_reader_result {
    GRPC_READER_OK = 0,
    GRPC_READER_TOO_LARGE = -1,  /* a message over max_len was announced */
    GRPC_READER_COMPRESSED = -2, /* compressed flag set; we negotiate no compression */
};

/* Reassembles messages from arbitrary chunks; allocates only up to the announced length. */
struct grpc_reader {
    uint8_t prefix[GRPC_PREFIX_LEN];
    size_t prefix_have;
    uint8_t *message;
    size_t message_len, message_have;
    size_t max_len;
    uint32_t rejected_len; /* the announced length when TOO_LARGE */
};

void grpc_reader_init(struct grpc_reader *r, size_t max_len);
void grpc_reader_reset(struct grpc_reader *r);
/*
 * Feeds a chunk; calls deliver(arg, data, len) for every complete message (ownership of data
 * passes to deliver). Returns GRPC_READER_OK or an error; after an error the reader is spent.
 */
int grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t len,
                     void (*deliver)(void *arg, uint8_t *data, size_t len), void *arg);
/* True when a message is partly read (a stream ending now was cut short). */
bool grpc_reader_partial(const struct grpc_reader *r);

void grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], size_t len);

/* grpc-timeout: "<1-8 digits><H|M|S|m|u|n>" → nanoseconds; -1 when malformed. */
long long grpc_timeout_parse(const char *value);
/* Formats a timeout (ns) as grpc-timeout with at most 8 digits. */
void grpc_timeout_format(long long ns, char out[32]);
