/* Pure helpers of the shim: flags, socket and state paths, group ids, stdio URIs. */
#include "cmd/shim/util.h"
#include "lib/base/alloc.h"
#include "lib/base/gopath.h"
#include "lib/rpc/unix_socket.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- flags ---- */

int shim_flags_parse(int argc, char **argv, struct shim_flags *ret, struct berth_error **err)
{
    struct shim_flags f = {
        .namespace = "", .id = "", .address = "", .publish_binary = "", .bundle = "", .socket = ""};
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : NULL;
        struct {
            const char *name;
            const char **str;
            bool *flag;
        } table[] = {
            {"namespace", &f.namespace, NULL}, {"id", &f.id, NULL},
            {"address", &f.address, NULL},     {"publish-binary", &f.publish_binary, NULL},
            {"bundle", &f.bundle, NULL},       {"socket", &f.socket, NULL},
            {"debug-socket", NULL, NULL}, /* accepted, unused: no pprof listener */
            {"debug", NULL, &f.debug},         {"info", NULL, &f.info},
            {"v", NULL, &f.version},
        };
        size_t k = 0;
        for (; k < ARRAY_SIZE(table); k++)
            if (strlen(table[k].name) == nlen && strncmp(table[k].name, name, nlen) == 0)
                break;
        if (k == ARRAY_SIZE(table))
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "flag provided but not defined: -%.*s",
                            (int)nlen, name);
        if (table[k].flag) {
            if (!value || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
                *table[k].flag = true;
            else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
                *table[k].flag = false;
            else
                return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid boolean value %s for -%s",
                                value, table[k].name);
            continue;
        }
        if (!value) {
            if (i + 1 >= argc)
                return err_make(err, ERR_INVALID_ARGUMENT, 0, "flag needs an argument: -%s",
                                table[k].name);
            value = argv[++i];
        }
        if (table[k].str)
            *table[k].str = value;
    }
    if (i < argc) {
        f.action = argv[i];
        if (strcmp(f.action, "start") != 0 && strcmp(f.action, "delete") != 0)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "unknown action %s", f.action);
    }
    *ret = f;
    return 0;
}

/* ---- SHA-256 (FIPS 180-4) ---- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void shim_sha256_hex(const void *data, size_t len, char out[65])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t left = len;
    for (; left >= 64; left -= 64, p += 64)
        sha256_block(h, p);
    uint8_t tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tail_len = left < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < tail_len; off += 64)
        sha256_block(h, tail + off);
    for (int i = 0; i < 8; i++)
        snprintf(out + 8 * i, 9, "%08x", h[i]);
}

/* ---- paths ---- */

char *shim_path_clean(const char *path)
{
    return go_path_clean(path, strlen(path));
}

char *shim_state_dir_from_bundle(const char *bundle)
{
    _cleanup_free_ char *clean = shim_path_clean(bundle);
    if (clean[0] != '/')
        return NULL;
    for (int i = 0; i < 2; i++) { /* drop <id> and <ns> */
        char *slash = strrchr(clean, '/');
        if (!slash || slash == clean)
            return NULL;
        *slash = '\0';
    }
    /* clean now holds <state>/io.containerd.runtime.v2.task */
    char *last = strrchr(clean, '/');
    if (strcmp(last + 1, "io.containerd.runtime.v2.task") != 0)
        return NULL;
    if (last == clean)
        return xstrdup("/");
    return xstrndup(clean, (size_t)(last - clean));
}

char *shim_socket_path(const char *bundle, const char *address, const char *ns, const char *group)
{
    _cleanup_free_ char *joined = xasprintf("%s/%s/%s", address, ns, group);
    _cleanup_free_ char *key = shim_path_clean(joined);
    char hex[65];
    shim_sha256_hex(key, strlen(key), hex);
    _cleanup_free_ char *state = bundle ? shim_state_dir_from_bundle(bundle) : NULL;
    if (state) {
        char *path = xasprintf("%s/s/%s", strcmp(state, "/") == 0 ? "" : state, hex);
        if (strlen(path) <= UNIX_SOCKET_PATH_MAX)
            return path;
        free(path);
    }
    return xasprintf("%s/%s", SHIM_FALLBACK_SOCKET_DIR, hex);
}

char *shim_address_of(const char *socket_path)
{
    return xasprintf("unix://%s", socket_path);
}

/* ---- spec annotations ---- */

char *shim_group_from_spec(const char *spec_json, size_t len, const char *id,
                           struct berth_error **err)
{
    static const char *const keys[] = {"io.containerd.runc.v2.group",
                                       "io.kubernetes.cri.sandbox-id"};
    if (!spec_json)
        return xstrdup(id);
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct json_object *root = json_tokener_parse_ex(tok, spec_json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        err_make(err, ERR_INVALID_ARGUMENT, 0, "parse config.json: %s",
                 json_tokener_error_desc(jerr));
        return NULL;
    }
    char *group = NULL;
    struct json_object *ann;
    if (json_object_object_get_ex(root, "annotations", &ann) &&
        json_object_is_type(ann, json_type_object)) {
        for (size_t i = 0; i < ARRAY_SIZE(keys) && !group; i++) {
            struct json_object *v;
            if (json_object_object_get_ex(ann, keys[i], &v) &&
                json_object_is_type(v, json_type_string))
                group = xstrdup(json_object_get_string(v));
        }
    }
    json_object_put(root);
    return group ? group : xstrdup(id);
}

/* ---- stdio URIs ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding as Go's url.QueryUnescape (plus is a space in queries). */
static char *unescape(const char *s, size_t n, bool query, struct berth_error **err)
{
    char *out = xmalloc(n + 1);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid URL escape in %.*s", (int)n, s);
                return NULL;
            }
            out[w++] = (char)(hi << 4 | lo);
            i += 2;
            continue;
        }
        out[w++] = query && s[i] == '+' ? ' ' : s[i];
    }
    out[w] = '\0';
    if (memchr(out, '\0', w)) {
        free(out);
        err_make(err, ERR_INVALID_ARGUMENT, 0, "NUL byte in %.*s", (int)n, s);
        return NULL;
    }
    return out;
}

static void add_arg(struct stdio_uri *u, char *arg)
{
    u->args = xrealloc(u->args, (u->n_args + 2) * sizeof(*u->args));
    u->args[u->n_args++] = arg;
    u->args[u->n_args] = NULL;
}

int shim_stdio_uri_parse(const char *uri, struct stdio_uri *ret, struct berth_error **err)
{
    struct stdio_uri u = {.kind = STDIO_FIFO};
    const char *colon = strstr(uri, "://");
    const char *scheme_end = colon;
    /* A scheme is letters, digits, + - . starting with a letter (RFC 3986). */
    if (colon) {
        for (const char *p = uri; p < colon; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (p > uri && ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))))
                scheme_end = NULL;
        if (colon == uri)
            scheme_end = NULL;
    }
    if (!*uri) {
        u.kind = STDIO_NULL;
    } else if (!scheme_end || (colon - uri == 4 && strncmp(uri, "fifo", 4) == 0)) {
        u.path = xstrdup(uri); /* FIFOs are used by their raw path, as the reference does */
    } else {
        size_t slen = (size_t)(colon - uri);
        const char *rest = colon + 3;
        if (*rest != '/') /* binary://host/... : the host part is not a path */
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "stdio URI %s: expected an absolute path after ://", uri);
        const char *q = strchr(rest, '?');
        size_t plen = q ? (size_t)(q - rest) : strlen(rest);
        if (slen == 4 && strncmp(uri, "file", 4) == 0)
            u.kind = STDIO_FILE;
        else if (slen == 6 && strncmp(uri, "binary", 6) == 0)
            u.kind = STDIO_BINARY;
        else
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "unknown STDIO scheme %.*s", (int)slen,
                            uri);
        u.path = unescape(rest, plen, false, err);
        if (!u.path)
            return -1;
        if (u.kind == STDIO_BINARY && q) {
            const char *p = q + 1;
            while (*p) {
                const char *amp = strchr(p, '&');
                size_t n = amp ? (size_t)(amp - p) : strlen(p);
                const char *eq = memchr(p, '=', n);
                size_t klen = eq ? (size_t)(eq - p) : n;
                if (klen > 0) {
                    char *k = unescape(p, klen, true, err);
                    char *v = k && eq ? unescape(eq + 1, n - klen - 1, true, err) : NULL;
                    if (!k || (eq && !v)) {
                        free(k);
                        shim_stdio_uri_clear(&u);
                        return -1;
                    }
                    add_arg(&u, k);
                    if (v && *v)
                        add_arg(&u, v);
                    else
                        free(v);
                }
                p += n + (amp ? 1 : 0);
            }
        }
    }
    *ret = u;
    return 0;
}

void shim_stdio_uri_clear(struct stdio_uri *u)
{
    free(u->path);
    for (size_t i = 0; i < u->n_args; i++)
        free(u->args[i]);
    free(u->args);
    memset(u, 0, sizeof(*u));
}

bool shim_safe_name(const char *s)
{
    if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 255)
        return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x20)
            return false;
    return true;
}

/* ---- executables, JSON ---- */

char *shim_look_path(const char *name, const char *path_env)
{
    if (!name || !*name)
        return NULL;
    if (strchr(name, '/'))
        return access(name, X_OK) == 0 ? xstrdup(name) : NULL;
    /* Go's exec.LookPath: an empty PATH entry is the current directory */
    const char *p = path_env ? path_env : "";
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char *f = len ? xasprintf("%.*s/%s", (int)len, p, name) : xasprintf("./%s", name);
        struct stat st;
        if (stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0)
            return f;
        free(f);
        if (!colon)
            return NULL;
        p = colon + 1;
    }
}

char *shim_json_compact(const char *data, size_t len)
{
    struct json_tokener *tok = json_tokener_new_ex(64);
    if (len > INT32_MAX)
        len = 0;
    struct json_object *root = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (end < len && memchr(" \t\r\n", data[end], 4))
        end++;
    char *out = NULL;
    if (root && jerr == json_tokener_success && end == len)
        out = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    return out;
}
