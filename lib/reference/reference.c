/* distribution/reference's grammar, normalization and printing, hand-written from its regexps. */
#include "lib/reference/reference.h"
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define DEFAULT_DOMAIN        "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_REPO_PREFIX  "library/"
#define DEFAULT_TAG           "latest"

static const char msg_invalid_format[] = "invalid reference format";
static const char msg_uppercase[] = "repository name must be lowercase";
static const char msg_empty[] = "repository name must have at least one component";
static const char msg_too_long[] = "repository name must not be more than 255 characters";

void reference_clear(struct reference *ref)
{
    free(ref->domain);
    free(ref->path);
    free(ref->tag);
    free(ref->digest);
    memset(ref, 0, sizeof(*ref));
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return isascii((unsigned char)c) && isalnum((unsigned char)c);
}

static bool is_word(char c)
{
    return is_alnum(c) || c == '_';
}

/* pathComponent: [a-z0-9]+ ((?:[._]|__|[-]+)[a-z0-9]+)* over the whole of s[0..n). */
static bool valid_path_component(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0 || !is_lower_alnum(s[0]))
        return false;
    while (i < n) {
        while (i < n && is_lower_alnum(s[i]))
            i++;
        if (i == n)
            return true;
        size_t sep = i;
        if (s[i] == '.') {
            i++;
        } else if (s[i] == '_') {
            i++;
            if (i < n && s[i] == '_')
                i++;
        } else if (s[i] == '-') {
            while (i < n && s[i] == '-')
                i++;
        } else {
            return false;
        }
        if (i == sep || i == n || !is_lower_alnum(s[i]))
            return false;
    }
    return true;
}

/* remoteName: pathComponent ("/" pathComponent)*. */
static bool valid_remote_name(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            if (!valid_path_component(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

/* domainNameComponent: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]. */
static bool valid_domain_component(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* domainAndPort: (domainName | "[" [a-fA-F0-9:]+ "]") (":" [0-9]+)? over all of s[0..n). */
static bool valid_domain(const char *s, size_t n)
{
    size_t host_end;
    if (n > 0 && s[0] == '[') {
        size_t i = 1;
        while (i < n && (isxdigit((unsigned char)s[i]) || s[i] == ':'))
            i++;
        if (i == 1 || i >= n || s[i] != ']')
            return false;
        host_end = i + 1;
    } else {
        size_t i = 0, start = 0;
        for (;; i++) {
            if (i == n || s[i] == '.' || s[i] == ':') {
                if (!valid_domain_component(s + start, i - start))
                    return false;
                if (i == n || s[i] == ':')
                    break;
                start = i + 1;
            }
        }
        host_end = i;
    }
    if (host_end == n)
        return true;
    if (s[host_end] != ':' || host_end + 1 == n)
        return false;
    for (size_t i = host_end + 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* tag: [\w][\w.-]{0,127}. */
static bool valid_tag(const char *s, size_t n)
{
    if (n == 0 || n > REFERENCE_TAG_MAX_LENGTH || !is_word(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

/* digestPat: [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}. */
static bool valid_digest_pattern(const char *s, size_t n)
{
    size_t i = 0;
    for (;;) {
        if (i >= n || !isascii((unsigned char)s[i]) || !isalpha((unsigned char)s[i]))
            return false;
        i++;
        while (i < n && is_alnum(s[i]))
            i++;
        if (i < n && (s[i] == '-' || s[i] == '_' || s[i] == '+' || s[i] == '.')) {
            i++;
            continue;
        }
        break;
    }
    if (i >= n || s[i] != ':')
        return false;
    size_t hex = 0;
    for (i++; i < n; i++, hex++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return hex >= 32;
}

/* The pieces of ReferenceRegexp's match: offsets into the text. */
struct ref_match {
    size_t domain_len; /* 0: no domain */
    bool has_domain;
    size_t path_start, path_len;
    bool has_tag, has_digest;
    size_t tag_start, tag_len;
    size_t digest_start, digest_len;
};

/*
 * anchored(name (":" tag)? ("@" digest)?), name = (domainAndPort "/")? remoteName. The domain is
 * taken whenever the text before the first "/" is one (Go's regexp prefers the optional group);
 * no part of a domain can contain "/", so that choice never has to be undone.
 */
static bool match_reference(const char *s, struct ref_match *m)
{
    memset(m, 0, sizeof(*m));
    size_t n = strlen(s);
    const char *slash = strchr(s, '/');
    size_t pos = 0;
    if (slash && valid_domain(s, (size_t)(slash - s))) {
        m->has_domain = true;
        m->domain_len = (size_t)(slash - s);
        pos = m->domain_len + 1;
    }
    size_t end = pos;
    while (end < n && s[end] != ':' && s[end] != '@')
        end++;
    if (!valid_remote_name(s + pos, end - pos))
        return false;
    m->path_start = pos;
    m->path_len = end - pos;
    pos = end;
    if (pos < n && s[pos] == ':') {
        size_t t = ++pos;
        while (pos < n && s[pos] != '@')
            pos++;
        if (!valid_tag(s + t, pos - t))
            return false;
        m->has_tag = true;
        m->tag_start = t;
        m->tag_len = pos - t;
    }
    if (pos < n && s[pos] == '@') {
        size_t d = ++pos;
        if (!valid_digest_pattern(s + d, n - d))
            return false;
        m->has_digest = true;
        m->digest_start = d;
        m->digest_len = n - d;
        pos = n;
    }
    return pos == n;
}

int reference_parse(const char *s, struct reference *ret, struct berth_error **err)
{
    struct ref_match m;
    if (!match_reference(s, &m)) {
        if (!*s)
            return err_make_raw(err, ERR_INVALID_ARGUMENT, msg_empty);
        _cleanup_free_ char *lower = xstrdup(s);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        struct ref_match lm;
        if (match_reference(lower, &lm))
            return err_make_raw(err, ERR_INVALID_ARGUMENT, msg_uppercase);
        return err_make_raw(err, ERR_INVALID_ARGUMENT, msg_invalid_format);
    }
    if (m.path_len > REFERENCE_NAME_MAX_LENGTH)
        return err_make_raw(err, ERR_INVALID_ARGUMENT, msg_too_long);
    _cleanup_free_ char *digest = NULL;
    if (m.has_digest) {
        digest = xstrndup(s + m.digest_start, m.digest_len);
        const char *why = digest_check(digest);
        if (why)
            return err_make_raw(err, ERR_INVALID_ARGUMENT, why);
    }
    ret->domain = xstrndup(s, m.domain_len);
    ret->path = xstrndup(s + m.path_start, m.path_len);
    ret->tag = m.has_tag ? xstrndup(s + m.tag_start, m.tag_len) : NULL;
    ret->digest = steal_ptr(digest);
    return 0;
}

static bool is_hex64(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

static bool has_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            return true;
    return false;
}

/* splitDockerDomain: returns "domain/remainder" with docker's defaults applied. */
static char *split_docker_domain(const char *name, size_t *ret_domain_len)
{
    const char *slash = strchr(name, '/');
    _cleanup_free_ char *domain = NULL;
    _cleanup_free_ char *remote = NULL;
    if (!slash) {
        domain = xstrdup(DEFAULT_DOMAIN);
        remote = xasprintf(OFFICIAL_REPO_PREFIX "%s", name);
    } else {
        size_t dlen = (size_t)(slash - name);
        _cleanup_free_ char *maybe = xstrndup(name, dlen);
        if (strcmp(maybe, "localhost") == 0 || strpbrk(maybe, ".:") || has_upper(maybe, dlen)) {
            domain = steal_ptr(maybe);
            remote = xstrdup(slash + 1);
        } else {
            domain = xstrdup(DEFAULT_DOMAIN);
            remote = xstrdup(name);
        }
        if (strcmp(domain, LEGACY_DEFAULT_DOMAIN) == 0) {
            free(domain);
            domain = xstrdup(DEFAULT_DOMAIN);
        }
        if (strcmp(domain, DEFAULT_DOMAIN) == 0 && !strchr(remote, '/')) {
            char *prefixed = xasprintf(OFFICIAL_REPO_PREFIX "%s", remote);
            free(remote);
            remote = prefixed;
        }
    }
    *ret_domain_len = strlen(domain);
    return xasprintf("%s/%s", domain, remote);
}

int reference_parse_normalized_named(const char *s, struct reference *ret, struct berth_error **err)
{
    if (is_hex64(s)) {
        _cleanup_free_ char *msg = xasprintf(
            "invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s);
        return err_make_raw(err, ERR_INVALID_ARGUMENT, msg);
    }
    size_t domain_len = 0;
    _cleanup_free_ char *full = split_docker_domain(s, &domain_len);
    const char *remainder = full + domain_len + 1;
    size_t remote_len = strcspn(remainder, ":");
    if (has_upper(remainder, remote_len)) {
        _cleanup_free_ char *msg =
            xasprintf("invalid reference format: repository name (%.*s) must be lowercase",
                      (int)remote_len, remainder);
        return err_make_raw(err, ERR_INVALID_ARGUMENT, msg);
    }
    return reference_parse(full, ret, err);
}

void reference_tag_name_only(struct reference *ref)
{
    if (!ref->tag && !ref->digest)
        ref->tag = xstrdup(DEFAULT_TAG);
}

int reference_parse_docker_ref(const char *s, struct reference *ret, struct berth_error **err)
{
    struct reference r = {0};
    if (reference_parse_normalized_named(s, &r, err) < 0)
        return -1;
    if (r.tag && r.digest) {
        free(r.tag);
        r.tag = NULL;
    }
    reference_tag_name_only(&r);
    *ret = r;
    return 0;
}

char *reference_name(const struct reference *ref)
{
    if (!ref->domain || !*ref->domain)
        return xstrdup(ref->path);
    return xasprintf("%s/%s", ref->domain, ref->path);
}

char *reference_string(const struct reference *ref)
{
    _cleanup_free_ char *name = reference_name(ref);
    return xasprintf("%s%s%s%s%s", name, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
                     ref->digest ? "@" : "", ref->digest ? ref->digest : "");
}

/* familiarizeName: docker.io dropped, and library/ too when nothing else follows it. */
static void familiar_parts(const struct reference *ref, const char **ret_domain,
                           const char **ret_path)
{
    *ret_domain = ref->domain ? ref->domain : "";
    *ret_path = ref->path;
    if (strcmp(*ret_domain, DEFAULT_DOMAIN) == 0) {
        *ret_domain = "";
        size_t plen = strlen(OFFICIAL_REPO_PREFIX);
        if (strncmp(ref->path, OFFICIAL_REPO_PREFIX, plen) == 0 && !strchr(ref->path + plen, '/'))
            *ret_path = ref->path + plen;
    }
}

char *reference_familiar_name(const struct reference *ref)
{
    const char *domain, *path;
    familiar_parts(ref, &domain, &path);
    if (!*domain)
        return xstrdup(path);
    return xasprintf("%s/%s", domain, path);
}

char *reference_familiar_string(const struct reference *ref)
{
    _cleanup_free_ char *name = reference_familiar_name(ref);
    return xasprintf("%s%s%s%s%s", name, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
                     ref->digest ? "@" : "", ref->digest ? ref->digest : "");
}

int reference_normalize(const char *s, char **ret, struct berth_error **err)
{
    _cleanup_reference_ struct reference r = {0};
    if (reference_parse_docker_ref(s, &r, err) < 0)
        return -1;
    *ret = reference_string(&r);
    return 0;
}

int reference_familiarize(const char *s, char **ret, struct berth_error **err)
{
    _cleanup_reference_ struct reference r = {0};
    if (reference_parse_normalized_named(s, &r, err) < 0)
        return -1;
    reference_tag_name_only(&r);
    *ret = reference_familiar_string(&r);
    return 0;
}
