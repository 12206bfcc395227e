/* Parsers for cgroupfs and procfs text, with the leniencies of containerd's cgroups library. */
#include "core/cgroups/cgroups-internal.h"
#include "lib/base/alloc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool cg_next_line(char **cursor, char **ret_line)
{
    char *p = *cursor;
    if (*p == '\0')
        return false;
    char *nl = strchr(p, '\n');
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = p + strlen(p);
    }
    *ret_line = p;
    return true;
}

size_t cg_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (n < max)
            fields[n] = start;
        n++;
        if (!*p)
            break;
        *p++ = '\0';
    }
    return n;
}

int cg_parse_uint_strict(const char *s, unsigned bits, uint64_t *ret)
{
    uint64_t limit = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned digit = (unsigned)(*p - '0');
        if (v > (limit - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *ret = v;
    return 0;
}

int cg_parse_uint(const char *s, unsigned bits, uint64_t *ret)
{
    if (cg_parse_uint_strict(s, bits, ret) == 0)
        return 0;
    /* Negative numbers (kernels have printed -1 for "unlimited") read as 0; "-0" is not negative
     * to Go's ParseInt, so it stays an error. */
    if (s[0] != '-' || !s[1])
        return -1;
    bool nonzero = false;
    for (const char *p = s + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        nonzero |= *p != '0';
    }
    if (!nonzero)
        return -1;
    *ret = 0;
    return 0;
}

void cg_kv_clear(struct cg_kv *kv)
{
    for (size_t i = 0; i < kv->n; i++)
        free(kv->items[i].key);
    free(kv->items);
    *kv = (struct cg_kv){0};
}

static ssize_t cg_kv_find(const struct cg_kv *kv, const char *key)
{
    for (size_t i = kv->n; i-- > 0;)
        if (strcmp(kv->items[i].key, key) == 0)
            return (ssize_t)i;
    return -1;
}

uint64_t cg_kv_get(const struct cg_kv *kv, const char *key)
{
    ssize_t i = cg_kv_find(kv, key);
    return i < 0 ? 0 : kv->items[i].value;
}

bool cg_kv_has(const struct cg_kv *kv, const char *key)
{
    return cg_kv_find(kv, key) >= 0;
}

int cg_kv_parse(char *text, const char *what, struct cg_kv *kv, struct berth_error **err)
{
    char *cursor = text, *line;
    unsigned lineno = 0;
    while (cg_next_line(&cursor, &line)) {
        lineno++;
        char *f[2];
        uint64_t v;
        if (cg_fields(line, f, 2) != 2 || cg_parse_uint(f[1], 64, &v) < 0)
            return err_make(err, ERR_UNKNOWN, 0, "%s line %u: malformed \"key value\" line", what,
                            lineno);
        kv->items = xreallocarray_grow(kv->items, &kv->cap, kv->n + 1, sizeof(*kv->items));
        kv->items[kv->n].key = xstrdup(f[0]);
        kv->items[kv->n].value = v;
        kv->n++;
    }
    return 0;
}

int cg_read_file(const char *path, char **ret_text, struct berth_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "open %s", path);
    size_t cap = 4096, len = 0;
    _cleanup_free_ char *buf = xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap >= CGROUPS_MAX_FILE)
                return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "%s is larger than %u bytes", path,
                                CGROUPS_MAX_FILE);
            cap *= 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_make(err, err_kind_from_errno(errno), errno, "read %s", path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    /* A NUL inside would hide the rest of the text from the line parsers. */
    if (memchr(buf, '\0', len))
        return err_make(err, ERR_UNKNOWN, 0, "%s: unexpected NUL byte", path);
    buf[len] = '\0';
    *ret_text = steal_ptr(buf);
    return 0;
}

int cg_read_kv_file(const char *path, struct cg_kv *kv, struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    if (cg_read_file(path, &text, err) < 0)
        return -1;
    return cg_kv_parse(text, path, kv, err);
}

int cg_read_uint_file(const char *path, uint64_t max_value, uint64_t *ret, struct berth_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "open %s", path);
    char buf[33];
    ssize_t n;
    do
        n = read(fd, buf, 32);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "read %s", path);
    if (n == 0) /* Go's Read reports io.EOF for an empty file */
        return err_make(err, ERR_UNKNOWN, 0, "read %s: EOF", path);
    buf[n] = '\0';
    char *s = buf;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    if (strcmp(s, "max") == 0) {
        *ret = max_value;
        return 0;
    }
    if (cg_parse_uint(s, 64, ret) < 0)
        return err_make(err, ERR_UNKNOWN, 0, "%s: not an unsigned integer: \"%.32s\"", path, s);
    return 0;
}

void cg_proc_entries_free(struct cg_proc_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(entries[i].controllers);
        free(entries[i].path);
    }
    free(entries);
}

int cg_parse_proc_cgroup(char *text, struct cg_proc_entry **ret_entries, size_t *ret_n,
                         struct berth_error **err)
{
    struct cg_proc_entry *entries = NULL;
    size_t n = 0, cap = 0;
    char *cursor = text, *line;
    while (cg_next_line(&cursor, &line)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) {
            cg_proc_entries_free(entries, n);
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid cgroup entry: \"%.200s\"", line);
        }
        entries = xreallocarray_grow(entries, &cap, n + 1, sizeof(*entries));
        entries[n].controllers = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
        entries[n].path = xstrdup(c2 + 1);
        n++;
    }
    *ret_entries = entries;
    *ret_n = n;
    return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_octal(const char *s)
{
    char *out = xmalloc(strlen(s) + 1), *o = out;
    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

static bool has_option(const char *options, const char *option)
{
    size_t len = strlen(option);
    for (const char *p = options; p;) {
        const char *comma = strchr(p, ',');
        size_t plen = comma ? (size_t)(comma - p) : strlen(p);
        if (plen == len && memcmp(p, option, len) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

char *cg_mountinfo_cgroup_root(const char *mountinfo, const char *option)
{
    _cleanup_free_ char *copy = xstrdup(mountinfo);
    char *cursor = copy, *line;
    while (cg_next_line(&cursor, &line)) {
        /* Fields are separated by single spaces; the optional fields make the count vary, so
         * fstype and super options are found from the end. */
        char *fields[64];
        size_t n = 0;
        for (char *p = line; p && n < ARRAY_SIZE(fields);) {
            fields[n++] = p;
            p = strchr(p, ' ');
            if (p)
                *p++ = '\0';
        }
        if (n < 10 || strcmp(fields[n - 3], "cgroup") != 0)
            continue;
        if (has_option(fields[n - 1], option))
            return unescape_octal(fields[3]);
    }
    return NULL;
}

bool cg_path_is_clean(const char *path)
{
    if (path[0] != '/')
        return false;
    if (strcmp(path, "/") == 0)
        return true;
    for (const char *p = path + 1;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

void cg_devices_free(struct cg_device *devices, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(devices[i].name);
    free(devices);
}

int cg_parse_partitions(char *text, struct cg_device **ret_devices, size_t *ret_n,
                        struct berth_error **err)
{
    struct cg_device *devices = NULL;
    size_t n = 0, cap = 0;
    char *cursor = text, *line;
    for (unsigned lineno = 0; cg_next_line(&cursor, &line); lineno++) {
        char *f[4];
        if (lineno < 2 || cg_fields(line, f, 4) < 4)
            continue;
        uint64_t major, minor;
        if (cg_parse_uint_strict(f[0], 63, &major) < 0 ||
            cg_parse_uint_strict(f[1], 63, &minor) < 0) {
            cg_devices_free(devices, n);
            return err_make(err, ERR_UNKNOWN, 0, "partitions line %u: bad device number",
                            lineno + 1);
        }
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = devices[i].major == major && devices[i].minor == minor;
        if (seen)
            continue;
        devices = xreallocarray_grow(devices, &cap, n + 1, sizeof(*devices));
        devices[n].major = major;
        devices[n].minor = minor;
        devices[n].name = xasprintf("/dev/%s", f[3]);
        n++;
    }
    *ret_devices = devices;
    *ret_n = n;
    return 0;
}

/* "2048kB" → bytes, as go-units' RAMInBytes reads it (binary units, optional i and B). */
static bool ram_in_bytes(const char *s, double *ret)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s)
        return false;
    while (*p == '.' && p[1] >= '0' && p[1] <= '9')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    double value = strtod(s, NULL);
    if (*p == ' ')
        p++;
    static const char units[] = "kmgtp";
    const char *u = *p ? strchr(units, tolower((unsigned char)*p)) : NULL;
    if (u) {
        for (long i = 0; i <= u - units; i++)
            value *= 1024;
        p++;
    }
    if (*p == 'i' || *p == 'I')
        p++;
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p)
        return false;
    *ret = value;
    return true;
}

static char *hugepage_name_v1(const char *entry)
{
    const char *dash = strchr(entry, '-');
    if (!dash)
        return NULL;
    /* strings.Split(name, "-")[1]: up to the next dash */
    _cleanup_free_ char *size = xstrdup(dash + 1);
    char *dash2 = strchr(size, '-');
    if (dash2)
        *dash2 = '\0';
    double bytes;
    if (!ram_in_bytes(size, &bytes))
        return NULL;
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    size_t i = 0;
    while (bytes >= 1024 && i < ARRAY_SIZE(units) - 1) {
        bytes /= 1024;
        i++;
    }
    return xasprintf("%g%s", bytes, units[i]);
}

static char *hugepage_name_v2(const char *entry)
{
    static const char prefix[] = "hugepages-";
    if (strncmp(entry, prefix, strlen(prefix)) != 0)
        return NULL;
    const char *val = entry + strlen(prefix);
    size_t len = strlen(val);
    if (len < 2 || strcmp(val + len - 2, "kB") != 0)
        return NULL;
    _cleanup_free_ char *digits = xstrndup(val, len - 2);
    uint64_t size;
    if (cg_parse_uint_strict(digits, 63, &size) < 0)
        return NULL;
    if (size >= (1u << 20))
        return xasprintf("%lluGB", (unsigned long long)(size >> 20));
    if (size >= (1u << 10))
        return xasprintf("%lluMB", (unsigned long long)(size >> 10));
    return xasprintf("%lluKB", (unsigned long long)size);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *cg_hugepage_sizes(const char *hugepages_dir, bool v2)
{
    DIR *dir = opendir(hugepages_dir);
    if (!dir)
        return NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < 64) {
        if (de->d_name[0] == '.')
            continue;
        names = xreallocarray_grow(names, &cap, n + 1, sizeof(*names));
        names[n++] = xstrdup(de->d_name);
    }
    closedir(dir);
    if (n > 0)
        qsort(names, n, sizeof(*names), compare_names);
    size_t out_len = 0;
    char *out = xcalloc(1, 2);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *size = v2 ? hugepage_name_v2(names[i]) : hugepage_name_v1(names[i]);
        free(names[i]);
        if (!size)
            continue;
        size_t len = strlen(size);
        out = xrealloc(out, out_len + len + 2);
        memcpy(out + out_len, size, len + 1);
        out_len += len + 1;
        out[out_len] = '\0';
    }
    free(names);
    return out;
}

static bool parse_double(const char *s, double *ret)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || (errno == ERANGE && isinf(v)))
        return false;
    *ret = v;
    return true;
}

bool cg_parse_psi(char *text, struct cg_psi_line *some, struct cg_psi_line *full)
{
    *some = (struct cg_psi_line){0};
    *full = (struct cg_psi_line){0};
    char *cursor = text, *line;
    while (cg_next_line(&cursor, &line)) {
        char *f[8];
        size_t n = cg_fields(line, f, ARRAY_SIZE(f));
        if (n == 0)
            continue;
        struct cg_psi_line *pv = NULL;
        if (strcmp(f[0], "some") == 0)
            pv = some;
        else if (strcmp(f[0], "full") == 0)
            pv = full;
        if (!pv)
            continue;
        if (n > ARRAY_SIZE(f))
            return false;
        *pv = (struct cg_psi_line){.present = true};
        for (size_t i = 1; i < n; i++) {
            char *eq = strchr(f[i], '=');
            if (!eq)
                return false;
            *eq = '\0';
            const char *key = f[i], *value = eq + 1;
            bool ok = true;
            if (strcmp(key, "avg10") == 0)
                ok = parse_double(value, &pv->avg10);
            else if (strcmp(key, "avg60") == 0)
                ok = parse_double(value, &pv->avg60);
            else if (strcmp(key, "avg300") == 0)
                ok = parse_double(value, &pv->avg300);
            else if (strcmp(key, "total") == 0)
                ok = cg_parse_uint_strict(value, 64, &pv->total) == 0;
            if (!ok)
                return false;
        }
    }
    return true;
}

static void parse_rdma_kv(char *raw, uint32_t *handles, uint32_t *objects)
{
    char *eq = strchr(raw, '=');
    if (!eq || strchr(eq + 1, '='))
        return;
    *eq = '\0';
    uint64_t value;
    if (strcmp(eq + 1, "max") == 0)
        value = UINT32_MAX;
    else if (cg_parse_uint(eq + 1, 32, &value) < 0)
        return;
    if (strcmp(raw, "hca_handle") == 0)
        *handles = (uint32_t)value;
    else if (strcmp(raw, "hca_object") == 0)
        *objects = (uint32_t)value;
}

bool cg_parse_rdma_line(char *line, char **ret_device, uint32_t *ret_handles, uint32_t *ret_objects)
{
    char *f[3];
    if (cg_fields(line, f, 3) != 3)
        return false;
    *ret_device = f[0];
    *ret_handles = 0;
    *ret_objects = 0;
    parse_rdma_kv(f[1], ret_handles, ret_objects);
    parse_rdma_kv(f[2], ret_handles, ret_objects);
    return true;
}
