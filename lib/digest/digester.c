/* Streaming hashers over OpenSSL's EVP interface, and one-shot helpers for buffers and files. */
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <unistd.h>

struct digester {
    enum digest_algorithm algorithm;
    EVP_MD_CTX *ctx;
    EVP_MD_CTX *scratch; /* a copy to finish without disturbing ctx */
    bool failed;
};

static const char *const evp_names[] = {
    [DIGEST_SHA256] = "SHA256",
    [DIGEST_SHA384] = "SHA384",
    [DIGEST_SHA512] = "SHA512",
};
/* Fetched once: an implicit fetch on every init would cost a provider lookup per hasher. */
static EVP_MD *evp_mds[ARRAY_SIZE(evp_names)];
static pthread_once_t evp_once = PTHREAD_ONCE_INIT;

static void fetch_mds(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(evp_names); i++)
        evp_mds[i] = EVP_MD_fetch(NULL, evp_names[i], NULL);
}

static const EVP_MD *md_for(enum digest_algorithm algorithm)
{
    if ((unsigned)algorithm >= ARRAY_SIZE(evp_names))
        return NULL;
    pthread_once(&evp_once, fetch_mds);
    return evp_mds[algorithm];
}

int digester_new(enum digest_algorithm algorithm, struct digester **ret, struct berth_error **err)
{
    const EVP_MD *md = md_for(algorithm);
    if (!md)
        return err_make(err, ERR_NOT_IMPLEMENTED, 0, "%s not available in libcrypto",
                        digest_algorithm_name(algorithm));
    struct digester *d = xcalloc(1, sizeof(*d));
    d->algorithm = algorithm;
    d->ctx = EVP_MD_CTX_new();
    d->scratch = EVP_MD_CTX_new();
    if (!d->ctx || !d->scratch || EVP_DigestInit_ex(d->ctx, md, NULL) != 1) {
        digester_free(d);
        return err_make(err, ERR_INTERNAL, 0, "initialise %s hasher",
                        digest_algorithm_name(algorithm));
    }
    *ret = d;
    return 0;
}

struct digester *digester_free(struct digester *d)
{
    if (!d)
        return NULL;
    EVP_MD_CTX_free(d->ctx);
    EVP_MD_CTX_free(d->scratch);
    free(d);
    return NULL;
}

enum digest_algorithm digester_algorithm(const struct digester *d)
{
    return d->algorithm;
}

void digester_update(struct digester *d, const void *data, size_t len)
{
    if (len > 0 && !d->failed && EVP_DigestUpdate(d->ctx, data, len) != 1)
        d->failed = true;
}

int digester_update_fd(struct digester *d, int fd, int64_t *ret_bytes, struct berth_error **err)
{
    enum { BUFFER_SIZE = 256 * 1024 };
    _cleanup_free_ unsigned char *buf = xmalloc(BUFFER_SIZE);
    int64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, BUFFER_SIZE);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_make(err, err_kind_from_errno(errno), errno, "read for digest");
        }
        if (n == 0)
            break;
        digester_update(d, buf, (size_t)n);
        total += n;
    }
    if (ret_bytes)
        *ret_bytes = total;
    return 0;
}

int digester_digest(struct digester *d, char out[DIGEST_STRING_SIZE], struct berth_error **err)
{
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (d->failed || EVP_MD_CTX_copy_ex(d->scratch, d->ctx) != 1 ||
        EVP_DigestFinal_ex(d->scratch, raw, &len) != 1 ||
        len != digest_algorithm_size(d->algorithm))
        return err_make(err, ERR_INTERNAL, 0, "%s hasher failed",
                        digest_algorithm_name(d->algorithm));
    digest_format(d->algorithm, raw, out);
    return 0;
}

void digester_reset(struct digester *d)
{
    d->failed = EVP_DigestInit_ex(d->ctx, md_for(d->algorithm), NULL) != 1;
}

int digest_from_bytes(enum digest_algorithm algorithm, const void *data, size_t len,
                      char out[DIGEST_STRING_SIZE], struct berth_error **err)
{
    _cleanup_digester_ struct digester *d = NULL;
    if (digester_new(algorithm, &d, err) < 0)
        return -1;
    digester_update(d, data, len);
    return digester_digest(d, out, err);
}

int digest_from_fd(enum digest_algorithm algorithm, int fd, char out[DIGEST_STRING_SIZE],
                   int64_t *ret_bytes, struct berth_error **err)
{
    _cleanup_digester_ struct digester *d = NULL;
    if (digester_new(algorithm, &d, err) < 0 || digester_update_fd(d, fd, ret_bytes, err) < 0)
        return -1;
    return digester_digest(d, out, err);
}
