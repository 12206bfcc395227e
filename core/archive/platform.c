/* Platform specifiers, normalization and matching as github.com/containerd/platforms has them. */
#include "core/archive/archive-internal.h"
#include "lib/base/alloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#elif defined(__arm__)
#define HOST_ARCH "arm"
#elif defined(__i386__)
#define HOST_ARCH "386"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ARCH "ppc64le"
#elif defined(__s390x__)
#define HOST_ARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_ARCH "riscv64"
#elif defined(__loongarch64)
#define HOST_ARCH "loong64"
#elif defined(__mips64) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ARCH "mips64le"
#else
#error "unknown host architecture: add its GOARCH name"
#endif

static const char *const known_os[] = {
    "aix",   "android", "darwin", "dragonfly", "freebsd", "hurd",    "illumos", "ios", "js",
    "linux", "nacl",    "netbsd", "openbsd",   "plan9",   "solaris", "windows", "zos",
};
static const char *const known_arch[] = {
    "386",     "amd64",   "amd64p32", "arm",    "armbe",  "arm64",    "arm64be",   "ppc64",
    "ppc64le", "loong64", "mips",     "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le",
    "ppc",     "riscv",   "riscv64",  "s390",   "s390x",  "sparc",    "sparc64",   "wasm",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static char *lower(const char *s)
{
    char *out = xstrdup(s ? s : "");
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

static void set(char **field, const char *value)
{
    free(*field);
    *field = value && *value ? xstrdup(value) : NULL;
}

static char *normalize_os(const char *os)
{
    if (!os || !*os)
        return xstrdup("linux");
    char *l = lower(os);
    if (strcmp(l, "macos") == 0) {
        free(l);
        return xstrdup("darwin");
    }
    return l;
}

/* normalizeArch: canonical GOARCH and variant; either output may become NULL for "". */
static void normalize_arch(const char *arch_in, const char *variant_in, char **ret_arch,
                           char **ret_variant)
{
    _cleanup_free_ char *arch = lower(arch_in);
    _cleanup_free_ char *variant = lower(variant_in);
    const char *a = arch, *v = variant;
    char buf[64];
    if (strcmp(a, "i386") == 0) {
        a = "386";
        v = "";
    } else if (!strcmp(a, "x86_64") || !strcmp(a, "x86-64") || !strcmp(a, "amd64")) {
        a = "amd64";
        if (strcmp(v, "v1") == 0)
            v = "";
    } else if (!strcmp(a, "aarch64") || !strcmp(a, "arm64")) {
        a = "arm64";
        const char *dot = strchr(v, '.');
        size_t major_len = dot ? (size_t)(dot - v) : strlen(v);
        const char *major = v;
        if (major_len > 0 && major[0] == 'v') {
            major++;
            major_len--;
        }
        const char *minor = dot ? dot + 1 : "";
        bool has_minor = dot != NULL;
        if (has_minor && strcmp(minor, "0") == 0) {
            minor = "";
            has_minor = false;
        }
        if ((major_len == 0 || (major_len == 1 && major[0] == '8')) && !has_minor) {
            v = "";
        } else {
            snprintf(buf, sizeof(buf), "v%.*s%s%s", (int)major_len, major, has_minor ? "." : "",
                     has_minor ? minor : "");
            v = buf;
        }
    } else if (strcmp(a, "armhf") == 0) {
        a = "arm";
        v = "v7";
    } else if (strcmp(a, "armel") == 0) {
        a = "arm";
        v = "v6";
    } else if (strcmp(a, "arm") == 0) {
        if (!*v || strcmp(v, "7") == 0)
            v = "v7";
        else if (!strcmp(v, "5") || !strcmp(v, "6") || !strcmp(v, "8")) {
            snprintf(buf, sizeof(buf), "v%s", v);
            v = buf;
        }
    }
    *ret_arch = xstrdup(a);
    *ret_variant = *v ? xstrdup(v) : NULL;
}

void archive_platform_normalize(struct archive_platform *p)
{
    char *os = normalize_os(p->os);
    free(p->os);
    p->os = os;
    char *arch, *variant;
    normalize_arch(p->architecture, p->variant, &arch, &variant);
    free(p->architecture);
    free(p->variant);
    p->architecture = arch;
    p->variant = variant;
}

void archive_platform_default(struct archive_platform *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->os = xstrdup("linux");
    ret->architecture = xstrdup(HOST_ARCH);
#if defined(__arm__)
#if defined(__ARM_ARCH) && __ARM_ARCH >= 7
    ret->variant = xstrdup("v7");
#else
    ret->variant = xstrdup("v6");
#endif
#endif
}

char *archive_platform_format(const struct archive_platform *p)
{
    if (!p->os || !*p->os)
        return xstrdup("unknown");
    const char *arch = p->architecture ? p->architecture : "";
    const char *variant = p->variant ? p->variant : "";
    return xasprintf("%s%s%s%s%s", p->os, *arch ? "/" : "", arch, *variant ? "/" : "", variant);
}

static bool specifier_ok(const char *s, bool allow_dot)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isascii((unsigned char)*s) ||
            !(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || (allow_dot && *s == '.')))
            return false;
    return true;
}

int archive_platform_parse(const char *specifier, struct archive_platform *ret,
                           struct berth_error **err)
{
    if (strchr(specifier, '*'))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "\"%s\": wildcards not yet supported",
                        specifier);
    char *parts[4] = {0};
    size_t n = 0;
    _cleanup_free_ char *copy = xstrdup(specifier);
    for (char *p = copy; n < 4;) {
        parts[n++] = p;
        char *slash = n < 4 ? strchr(p, '/') : NULL;
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    struct archive_platform p = {0};
    /* <os>[(<osversion>)] */
    char *os = parts[0];
    char *paren = strchr(os, '(');
    const char *os_version = NULL;
    if (paren) {
        size_t len = strlen(paren);
        if (paren[len - 1] != ')')
            goto bad_os;
        paren[len - 1] = '\0';
        *paren = '\0';
        os_version = paren + 1;
        if (*os_version && !specifier_ok(os_version, true))
            goto bad_os;
    }
    if (!specifier_ok(os, false))
        goto bad_os;
    for (size_t i = 1; i < n; i++)
        if (!specifier_ok(parts[i], true))
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "\"%s\" is an invalid component of \"%s\": platform specifier "
                            "component must match \"^[A-Za-z0-9_.-]+$\"",
                            parts[i], specifier);
    p.os = normalize_os(os);
    set(&p.os_version, os_version);
    switch (n) {
    case 1:
        if (in_list(p.os, known_os, ARRAY_SIZE(known_os))) {
            p.architecture = xstrdup(HOST_ARCH);
            break;
        }
        if (paren) {
            archive_platform_clear(&p);
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "\"%s\": unknown operating system or architecture", specifier);
        }
        normalize_arch(parts[0], "", &p.architecture, &p.variant);
        if (!strcmp(p.architecture, "arm") && p.variant && !strcmp(p.variant, "v7"))
            set(&p.variant, NULL);
        if (!in_list(p.architecture, known_arch, ARRAY_SIZE(known_arch))) {
            archive_platform_clear(&p);
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "\"%s\": unknown operating system or architecture", specifier);
        }
        free(p.os);
        p.os = xstrdup("linux");
        break;
    case 2:
        normalize_arch(parts[1], "", &p.architecture, &p.variant);
        if (!strcmp(p.architecture, "arm") && p.variant && !strcmp(p.variant, "v7"))
            set(&p.variant, NULL);
        break;
    case 3:
        normalize_arch(parts[1], parts[2], &p.architecture, &p.variant);
        if (!strcmp(p.architecture, "arm64") && !p.variant)
            p.variant = xstrdup("v8");
        break;
    default:
        archive_platform_clear(&p);
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "\"%s\": cannot parse platform specifier",
                        specifier);
    }
    *ret = p;
    return 0;
bad_os:
    return err_make(err, ERR_INVALID_ARGUMENT, 0,
                    "\"%s\" is an invalid OS component of \"%s\": OSAndVersion specifier "
                    "component must match \"^([A-Za-z0-9_-]+)(?:\\(([A-Za-z0-9_.-]*)\\))?$\"",
                    parts[0], specifier);
}

/* ---- matching ---- */

void platform_matcher_clear(struct platform_matcher *m)
{
    for (size_t i = 0; i < m->n; i++)
        archive_platform_clear(&m->platforms[i]);
    free(m->platforms);
    memset(m, 0, sizeof(*m));
}

void platform_matcher_all(struct platform_matcher *m)
{
    memset(m, 0, sizeof(*m));
    m->all = true;
}

static void push(struct platform_matcher *m, const char *os, const char *arch, const char *variant,
                 const char *os_version)
{
    m->platforms = xrealloc(m->platforms, (m->n + 1) * sizeof(*m->platforms));
    struct archive_platform *p = &m->platforms[m->n++];
    memset(p, 0, sizeof(*p));
    p->os = xstrdup(os ? os : "");
    p->architecture = xstrdup(arch ? arch : "");
    set(&p->variant, variant);
    set(&p->os_version, os_version);
}

void platform_matcher_ordered(struct platform_matcher *m, const struct archive_platform *list,
                              size_t n)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < n; i++)
        push(m, list[i].os, list[i].architecture, list[i].variant, list[i].os_version);
}

void platform_matcher_only_strict(struct platform_matcher *m, const struct archive_platform *p)
{
    struct archive_platform n = {0};
    archive_platform_copy(&n, p);
    archive_platform_normalize(&n);
    platform_matcher_ordered(m, &n, 1);
    archive_platform_clear(&n);
}

/* strconv.Atoi of s[0..n) after an optional "v": false unless all digits (and not too long). */
static bool version_number(const char *s, size_t n, int *ret)
{
    if (n > 0 && s[0] == 'v') {
        s++;
        n--;
    }
    if (n == 0 || n > 6)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

/* platformVector: the platform and the older ones it can run. */
static void vector(struct platform_matcher *m, const char *os, const char *arch,
                   const char *variant, const char *osv)
{
    push(m, os, arch, variant, osv);
    char buf[32];
    const char *v = variant ? variant : "";
    int ver;
    if (strcmp(arch, "amd64") == 0) {
        if (version_number(v, strlen(v), &ver) && ver > 1)
            for (ver--; ver >= 1; ver--) {
                snprintf(buf, sizeof(buf), "v%d", ver);
                push(m, os, arch, buf, osv);
            }
        push(m, os, "386", NULL, osv);
    } else if (strcmp(arch, "arm") == 0) {
        if (version_number(v, strlen(v), &ver) && ver > 5)
            for (ver--; ver >= 5; ver--) {
                snprintf(buf, sizeof(buf), "v%d", ver);
                push(m, os, arch, buf, osv);
            }
    } else if (strcmp(arch, "arm64") == 0) {
        const char *var = *v ? v : "v8";
        const char *dot = strchr(var, '.');
        size_t major_len = dot ? (size_t)(dot - var) : strlen(var);
        int major, minor = 0;
        if (version_number(var, major_len, &major) && major >= 8) {
            int parsed;
            if (strlen(var) == 4 && dot && version_number(dot + 1, strlen(dot + 1), &parsed) &&
                dot[1] != 'v')
                minor = parsed;
            if (major == 9) {
                for (int i = minor - 1; i >= 0; i--) {
                    if (i == 0)
                        snprintf(buf, sizeof(buf), "v9");
                    else
                        snprintf(buf, sizeof(buf), "v9.%d", i);
                    push(m, os, arch, buf, osv);
                }
                minor = minor + 5 > 9 ? 9 : minor + 5;
                major = 8;
                snprintf(buf, sizeof(buf), "v8.%d", minor);
                push(m, os, arch, buf, osv);
            }
            for (int i = minor - 1; i >= 0; i--) {
                if (i == 0)
                    snprintf(buf, sizeof(buf), "v%d", major);
                else
                    snprintf(buf, sizeof(buf), "v%d.%d", major, i);
                push(m, os, arch, buf, osv);
            }
        }
        if (strncmp(var, "v8.", 3) == 0 || strncmp(var, "v9.", 3) == 0)
            var = "v8";
        vector(m, os, "arm", var, osv);
    }
}

void platform_matcher_only(struct platform_matcher *m, const struct archive_platform *p)
{
    struct archive_platform n = {0};
    archive_platform_copy(&n, p);
    archive_platform_normalize(&n);
    memset(m, 0, sizeof(*m));
    vector(m, n.os, n.architecture, n.variant, n.os_version);
    archive_platform_clear(&n);
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* matcher.Match: the candidate is normalized, the wanted platform compared as given. */
static bool match_one(const struct archive_platform *want, const struct archive_platform *n)
{
    return str_eq(want->os, n->os) && str_eq(want->architecture, n->architecture) &&
           str_eq(want->variant, n->variant);
}

static void normalized_copy(const struct archive_platform *p, struct archive_platform *ret)
{
    memset(ret, 0, sizeof(*ret));
    archive_platform_copy(ret, p);
    archive_platform_normalize(ret);
}

bool platform_matcher_match(const struct platform_matcher *m, const struct archive_platform *p)
{
    if (m->all)
        return true;
    struct archive_platform n;
    normalized_copy(p, &n);
    bool ok = false;
    for (size_t i = 0; i < m->n && !ok; i++)
        ok = match_one(&m->platforms[i], &n);
    archive_platform_clear(&n);
    return ok;
}

bool platform_matcher_less(const struct platform_matcher *m, const struct archive_platform *a,
                           const struct archive_platform *b)
{
    if (m->all)
        return false;
    struct archive_platform na, nb;
    normalized_copy(a, &na);
    normalized_copy(b, &nb);
    bool less = false;
    for (size_t i = 0; i < m->n; i++) {
        bool am = match_one(&m->platforms[i], &na), bm = match_one(&m->platforms[i], &nb);
        if (am && !bm) {
            less = true;
            break;
        }
        if (am || bm)
            break;
    }
    archive_platform_clear(&na);
    archive_platform_clear(&nb);
    return less;
}

void platform_matcher_sort(const struct platform_matcher *m, struct archive_descriptor *d, size_t n)
{
    /* Insertion sort: stable, and indexes are short. */
    for (size_t i = 1; i < n; i++) {
        struct archive_descriptor cur = d[i];
        size_t j = i;
        while (j > 0) {
            const struct archive_descriptor *prev = &d[j - 1];
            bool before;
            if (!cur.platform)
                before = false;
            else if (!prev->platform)
                before = true;
            else
                before = platform_matcher_less(m, cur.platform, prev->platform);
            if (!before)
                break;
            d[j] = d[j - 1];
            j--;
        }
        d[j] = cur;
    }
}
