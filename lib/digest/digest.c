/* Digest strings: go-digest's validation rules, formatting and comparison. */
#include "lib/digest/digest.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
} algorithms[] = {
    [DIGEST_SHA256] = {"sha256", 32},
    [DIGEST_SHA384] = {"sha384", 48},
    [DIGEST_SHA512] = {"sha512", 64},
};

#define REASON_FORMAT      "invalid checksum digest format"
#define REASON_UNSUPPORTED "unsupported digest algorithm"
#define REASON_LENGTH      "invalid checksum digest length"

const char *digest_algorithm_name(enum digest_algorithm algorithm)
{
    if ((unsigned)algorithm >= sizeof(algorithms) / sizeof(algorithms[0]))
        return "";
    return algorithms[algorithm].name;
}

size_t digest_algorithm_size(enum digest_algorithm algorithm)
{
    if ((unsigned)algorithm >= sizeof(algorithms) / sizeof(algorithms[0]))
        return 0;
    return algorithms[algorithm].size;
}

bool digest_algorithm_from_name(const char *name, size_t len, enum digest_algorithm *ret_algorithm)
{
    for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++) {
        if (strlen(algorithms[i].name) == len && memcmp(algorithms[i].name, name, len) == 0) {
            if (ret_algorithm)
                *ret_algorithm = (enum digest_algorithm)i;
            return true;
        }
    }
    return false;
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* The algorithm part of go-digest's DigestRegexp: [a-z0-9]+(?:[.+_-][a-z0-9]+)* */
static bool algorithm_component_ok(const char *s, size_t len)
{
    bool need_alnum = true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (is_lower_alnum(c)) {
            need_alnum = false;
        } else if (!need_alnum && (c == '.' || c == '+' || c == '_' || c == '-')) {
            need_alnum = true;
        } else {
            return false;
        }
    }
    return len > 0 && !need_alnum;
}

/* The encoded part of go-digest's DigestRegexp: [a-zA-Z0-9=_-]+ */
static bool encoded_component_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '=' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

const char *digest_check(const char *s)
{
    if (!s)
        return REASON_FORMAT;
    const char *colon = strchr(s, ':');
    if (!colon || colon == s || colon[1] == '\0')
        return REASON_FORMAT;
    size_t algorithm_len = (size_t)(colon - s);
    const char *encoded = colon + 1;
    enum digest_algorithm algorithm;
    if (!digest_algorithm_from_name(s, algorithm_len, &algorithm)) {
        /* A well-formed name of an algorithm go-digest lacks is "unsupported", not malformed. */
        if (!algorithm_component_ok(s, algorithm_len) || !encoded_component_ok(encoded))
            return REASON_FORMAT;
        return REASON_UNSUPPORTED;
    }
    if (strlen(encoded) != 2 * algorithms[algorithm].size)
        return REASON_LENGTH;
    for (const char *p = encoded; *p; p++) {
        if (!((*p >= 'a' && *p <= 'f') || (*p >= '0' && *p <= '9')))
            return REASON_FORMAT;
    }
    return NULL;
}

int digest_validate(const char *s, struct berth_error **err)
{
    const char *reason = digest_check(s);
    if (reason)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "%s", reason);
    return 0;
}

int digest_parse(const char *s, enum digest_algorithm *ret_algorithm, const char **ret_encoded,
                 struct berth_error **err)
{
    if (digest_validate(s, err) < 0)
        return -1;
    const char *colon = strchr(s, ':');
    if (ret_algorithm)
        digest_algorithm_from_name(s, (size_t)(colon - s), ret_algorithm);
    if (ret_encoded)
        *ret_encoded = colon + 1;
    return 0;
}

void digest_format(enum digest_algorithm algorithm, const unsigned char *raw,
                   char out[DIGEST_STRING_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    const char *name = digest_algorithm_name(algorithm);
    size_t n = strlen(name), size = digest_algorithm_size(algorithm);
    memcpy(out, name, n);
    out[n++] = ':';
    for (size_t i = 0; i < size; i++) {
        out[n++] = hex[raw[i] >> 4];
        out[n++] = hex[raw[i] & 0xf];
    }
    out[n] = '\0';
}

bool digest_equal(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}
