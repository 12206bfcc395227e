/* containerd's pkg/reference Spec: a URL-ish locator and object, read as net/url reads it. */
#include "lib/base/alloc.h"
#include "lib/identifiers/gostring.h"
#include "lib/base/gopath.h"
#include "lib/reference/reference.h"

#include <stdbool.h>
#include <string.h>

void reference_spec_clear(struct reference_spec *spec)
{
    free(spec->locator);
    free(spec->object);
    spec->locator = spec->object = NULL;
}

static bool is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c - 'A' + 10;
}

/* net/url's shouldEscape for host names: the bytes a host may not hold literally. */
static bool host_byte_invalid(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return false;
    if (c >= 0x80)
        return false;
    return !strchr("!$&'()*+,;=:[]<>\"-_.~", c) || c == '\0';
}

enum unescape_mode { UNESCAPE_HOST, UNESCAPE_PATH, UNESCAPE_OTHER };

/* url.unescape: validates and decodes %XX escapes; hosts also reject stray bytes. */
static int url_unescape(const char *s, size_t n, enum unescape_mode mode, char **ret,
                        char **ret_problem)
{
    for (size_t i = 0; i < n;) {
        if (s[i] == '%') {
            if (i + 2 >= n || !is_hex_digit(s[i + 1]) || !is_hex_digit(s[i + 2])) {
                size_t len = n - i > 3 ? 3 : n - i;
                _cleanup_free_ char *q = go_quote(s + i, len);
                *ret_problem = xasprintf("invalid URL escape %s", q);
                return -1;
            }
            if (mode == UNESCAPE_HOST && hex_value(s[i + 1]) < 8 && strncmp(s + i, "%25", 3)) {
                _cleanup_free_ char *q = go_quote(s + i, 3);
                *ret_problem = xasprintf("invalid URL escape %s", q);
                return -1;
            }
            i += 3;
            continue;
        }
        if (mode == UNESCAPE_HOST && host_byte_invalid((unsigned char)s[i])) {
            _cleanup_free_ char *q = go_quote(s + i, 1);
            *ret_problem = xasprintf("invalid character %s in host name", q);
            return -1;
        }
        i++;
    }
    char *out = xmalloc(n + 1);
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '%') {
            out[w++] = (char)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2]));
            i += 3;
        } else {
            out[w++] = s[i++];
        }
    }
    out[w] = '\0';
    *ret = out;
    return 0;
}

/* ":" followed by digits, or nothing at all. */
static bool valid_optional_port(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (s[0] != ':')
        return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static const char userinfo_ok[] = "-._:~!$&'()*+,;=%@";

/* url.parseAuthority: optional userinfo before the last "@", then the host and port. */
static int parse_authority(const char *a, size_t n, char **ret_host, char **ret_problem)
{
    size_t at = n;
    for (size_t i = n; i > 0; i--)
        if (a[i - 1] == '@') {
            at = i - 1;
            break;
        }
    const char *host = at < n ? a + at + 1 : a;
    size_t hlen = at < n ? n - at - 1 : n;
    if (hlen > 0 && host[0] == '[') {
        size_t close = hlen;
        for (size_t i = hlen; i > 0; i--)
            if (host[i - 1] == ']') {
                close = i - 1;
                break;
            }
        if (close == hlen) {
            *ret_problem = xstrdup("missing ']' in host");
            return -1;
        }
        if (!valid_optional_port(host + close + 1, hlen - close - 1)) {
            _cleanup_free_ char *q = go_quote(host + close + 1, hlen - close - 1);
            *ret_problem = xasprintf("invalid port %s after host", q);
            return -1;
        }
    } else {
        for (size_t i = hlen; i > 0; i--)
            if (host[i - 1] == ':') {
                if (!valid_optional_port(host + i - 1, hlen - i + 1)) {
                    _cleanup_free_ char *q = go_quote(host + i - 1, hlen - i + 1);
                    *ret_problem = xasprintf("invalid port %s after host", q);
                    return -1;
                }
                break;
            }
    }
    if (url_unescape(host, hlen, UNESCAPE_HOST, ret_host, ret_problem) < 0)
        return -1;
    if (at < n) {
        for (size_t i = 0; i < at; i++) {
            char c = a[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      strchr(userinfo_ok, c);
            if (!ok || c == '\0') {
                free(*ret_host);
                *ret_host = NULL;
                *ret_problem = xstrdup("net/url: invalid userinfo");
                return -1;
            }
        }
        _cleanup_free_ char *user = NULL;
        if (url_unescape(a, at, UNESCAPE_OTHER, &user, ret_problem) < 0) {
            free(*ret_host);
            *ret_host = NULL;
            return -1;
        }
    }
    return 0;
}

static int url_error(struct berth_error **err, const char *url, size_t len, const char *problem)
{
    _cleanup_free_ char *q = go_quote(url, len);
    _cleanup_free_ char *msg = xasprintf("parse %s: %s", q, problem);
    return err_make_raw(err, ERR_INVALID_ARGUMENT, msg);
}

int reference_spec_parse(const char *s, struct reference_spec *ret, struct berth_error **err)
{
    if (strstr(s, "://"))
        return err_make_raw(err, ERR_INVALID_ARGUMENT, "invalid reference");
    _cleanup_free_ char *raw = xasprintf("dummy://%s", s);
    size_t ulen = strcspn(raw, "#");
    bool has_fragment = raw[ulen] == '#';
    for (size_t i = 0; i < ulen; i++)
        if ((unsigned char)raw[i] < 0x20 || raw[i] == 0x7f)
            return url_error(err, raw, ulen, "net/url: invalid control character in URL");
    /* After the scheme: "//authority/path?query". */
    const char *rest = raw + strlen("dummy:");
    size_t rlen = ulen - strlen("dummy:");
    const char *q = memchr(rest, '?', rlen);
    if (q)
        rlen = (size_t)(q - rest);
    const char *authority = rest + 2;
    size_t alen = rlen - 2;
    const char *slash = memchr(authority, '/', alen);
    const char *path = slash ? slash : authority + alen;
    size_t plen = slash ? alen - (size_t)(slash - authority) : 0;
    if (slash)
        alen = (size_t)(slash - authority);
    _cleanup_free_ char *host = NULL;
    _cleanup_free_ char *problem = NULL;
    if (parse_authority(authority, alen, &host, &problem) < 0)
        return url_error(err, raw, ulen, problem);
    _cleanup_free_ char *decoded_path = NULL;
    if (url_unescape(path, plen, UNESCAPE_PATH, &decoded_path, &problem) < 0)
        return url_error(err, raw, ulen, problem);
    if (has_fragment) {
        _cleanup_free_ char *frag = NULL;
        const char *f = raw + ulen + 1;
        if (url_unescape(f, strlen(f), UNESCAPE_OTHER, &frag, &problem) < 0)
            return url_error(err, raw, strlen(raw), problem);
    }
    if (!*host)
        return err_make_raw(err, ERR_INVALID_ARGUMENT, "hostname required");
    size_t split = strcspn(decoded_path, ":@");
    const char *object = "";
    if (decoded_path[split]) {
        object = decoded_path + split;
        if (*object == ':')
            object++;
    }
    _cleanup_free_ char *object_copy = xstrdup(object);
    decoded_path[split] = '\0';
    ret->locator = go_path_join(host, decoded_path);
    ret->object = steal_ptr(object_copy);
    return 0;
}

char *reference_spec_hostname(const struct reference_spec *spec)
{
    return xstrndup(spec->locator, strcspn(spec->locator, "/"));
}

char *reference_spec_digest(const struct reference_spec *spec)
{
    const char *at = strchr(spec->object, '@');
    return xstrdup(at ? at + 1 : "");
}

char *reference_spec_string(const struct reference_spec *spec)
{
    if (!*spec->object)
        return xstrdup(spec->locator);
    if (spec->object[0] == '@')
        return xasprintf("%s%s", spec->locator, spec->object);
    return xasprintf("%s:%s", spec->locator, spec->object);
}
