/* File helpers of the content store: Go-compatible timestamps, atomic small files, rm -rf. */
#include "core/content/content-internal.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000LL

struct timespec content_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts;
}

int content_timespec_compare(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    if (a->tv_nsec != b->tv_nsec)
        return a->tv_nsec < b->tv_nsec ? -1 : 1;
    return 0;
}

/* ".123" for 123000000 ns (Go trims trailing zeros); "" for 0. */
static void format_fraction(uint64_t value, int digits, char *out)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%0*" PRIu64, digits, value);
    int n = digits;
    while (n > 0 && buf[n - 1] == '0')
        n--;
    if (n == 0) {
        out[0] = '\0';
        return;
    }
    out[0] = '.';
    memcpy(out + 1, buf, (size_t)n);
    out[n + 1] = '\0';
}

static void format_utc(const struct timespec *ts, const char *date_time_sep, const char *zone,
                       char out[CONTENT_TIMESTAMP_SIZE])
{
    struct tm tm;
    time_t t = ts->tv_sec;
    gmtime_r(&t, &tm);
    char fraction[16];
    format_fraction((uint64_t)ts->tv_nsec, 9, fraction);
    snprintf(out, CONTENT_TIMESTAMP_SIZE, "%04d-%02d-%02d%s%02d:%02d:%02d%s%s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, date_time_sep, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction,
             zone);
}

void content_format_timestamp(const struct timespec *ts, char out[CONTENT_TIMESTAMP_SIZE])
{
    format_utc(ts, "T", "Z", out);
}

void content_format_time(const struct timespec *ts, char out[CONTENT_TIMESTAMP_SIZE])
{
    format_utc(ts, " ", " +0000 UTC", out);
}

static bool parse_digits(const char **p, int count, int min, int max, int *ret)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    if (v < min || v > max)
        return false;
    *p += count;
    *ret = v;
    return true;
}

static bool expect(const char **p, char c1, char c2)
{
    if (**p != c1 && **p != c2)
        return false;
    (*p)++;
    return true;
}

bool content_parse_timestamp(const char *text, struct timespec *ret)
{
    const char *p = text;
    struct tm tm = {0};
    int year, month, day, hour, minute, second;
    if (!parse_digits(&p, 4, 0, 9999, &year) || !expect(&p, '-', '-') ||
        !parse_digits(&p, 2, 1, 12, &month) || !expect(&p, '-', '-') ||
        !parse_digits(&p, 2, 1, 31, &day) || !expect(&p, 'T', 't') ||
        !parse_digits(&p, 2, 0, 23, &hour) || !expect(&p, ':', ':') ||
        !parse_digits(&p, 2, 0, 59, &minute) || !expect(&p, ':', ':') ||
        !parse_digits(&p, 2, 0, 59, &second))
        return false;
    long nsec = 0;
    if (*p == '.' || *p == ',') {
        p++;
        int digits = 0;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 9)
                nsec = nsec * 10 + (*p - '0');
        }
        if (digits == 0)
            return false;
        for (; digits < 9; digits++)
            nsec *= 10;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!parse_digits(&p, 2, 0, 23, &oh) || !expect(&p, ':', ':') ||
            !parse_digits(&p, 2, 0, 59, &om))
            return false;
        offset = sign * (oh * 3600L + om * 60L);
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t t = timegm(&tm);
    /* timegm normalises 31 February to March: Go rejects such dates. */
    if (tm.tm_mday != day || tm.tm_mon != month - 1)
        return false;
    ret->tv_sec = t - offset;
    ret->tv_nsec = nsec;
    return true;
}

/* value / 10^digits with its fraction, as Go's fmtFrac and fmtInt do. */
static int format_scaled(char *out, size_t size, uint64_t value, int digits, const char *unit)
{
    uint64_t scale = 1;
    for (int i = 0; i < digits; i++)
        scale *= 10;
    char fraction[24];
    format_fraction(value % scale, digits, fraction);
    return snprintf(out, size, "%" PRIu64 "%s%s", value / scale, fraction, unit);
}

void content_format_duration(int64_t ns, char out[40])
{
    uint64_t u = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
    char *p = out;
    size_t left = 40;
    if (ns < 0) {
        *p++ = '-';
        left--;
    }
    if (u == 0) {
        snprintf(out, 40, "0s");
    } else if (u < 1000) {
        snprintf(p, left, "%" PRIu64 "ns", u);
    } else if (u < 1000000) {
        format_scaled(p, left, u, 3, "µs");
    } else if (u < (uint64_t)NSEC_PER_SEC) {
        format_scaled(p, left, u, 6, "ms");
    } else {
        uint64_t secs = u / NSEC_PER_SEC, hours = secs / 3600, minutes = secs / 60 % 60;
        int n = 0;
        if (hours > 0)
            n = snprintf(p, left, "%" PRIu64 "h%" PRIu64 "m", hours, minutes);
        else if (minutes > 0)
            n = snprintf(p, left, "%" PRIu64 "m", minutes);
        format_scaled(p + n, left - (size_t)n, u % (60 * (uint64_t)NSEC_PER_SEC), 9, "s");
    }
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int content_write_file(const char *path, const void *data, size_t len, struct berth_error **err)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
    _cleanup_close_ int fd =
        open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, CONTENT_FILE_MODE);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "create tmp file %s", tmp);
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "write tmp file %s", tmp);
    if (rename(tmp, path) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "rename tmp file %s", tmp);
    return 0;
}

int content_write_timestamp(const char *path, const struct timespec *ts, struct berth_error **err)
{
    char text[CONTENT_TIMESTAMP_SIZE];
    content_format_timestamp(ts, text);
    return content_write_file(path, text, strlen(text), err);
}

int content_read_timestamp(const char *path, struct timespec *ret, struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    if (fs_read_small_file(path, CONTENT_TIMESTAMP_SIZE, &text, err) < 0)
        return -1;
    if (!content_parse_timestamp(text, ret))
        return err_make(err, ERR_UNKNOWN, 0, "could not parse timestamp file %s", path);
    return 0;
}

enum { REMOVE_MAX_DEPTH = 16 };

static int remove_at(int parent_fd, const char *name, int depth)
{
    if (unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    if (depth >= REMOVE_MAX_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    struct dirent *entry;
    int r = 0;
    while ((entry = readdir(dir))) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        if (remove_at(dirfd(dir), entry->d_name, depth + 1) < 0) {
            r = -1;
            break;
        }
    }
    int saved = errno;
    closedir(dir);
    if (r < 0) {
        errno = saved;
        return -1;
    }
    if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

int content_remove_tree(const char *path)
{
    return remove_at(AT_FDCWD, path, 0);
}

int content_sync_dir(const char *path, struct berth_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "sync directory %s", path);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void content_free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int content_list_dir(const char *path, char ***ret_names, size_t *ret_count,
                     struct berth_error **err)
{
    char **names = NULL;
    size_t count = 0, capacity = 0;
    DIR *dir = opendir(path);
    if (!dir) {
        if (errno != ENOENT)
            return err_make(err, err_kind_from_errno(errno), errno, "open %s", path);
    } else {
        struct dirent *entry;
        errno = 0;
        while ((entry = readdir(dir))) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
                continue;
            names = xreallocarray_grow(names, &capacity, count + 2, sizeof(*names));
            names[count++] = xstrdup(entry->d_name);
            errno = 0;
        }
        int saved = errno;
        closedir(dir);
        if (saved) {
            content_free_names(names, count);
            return err_make(err, err_kind_from_errno(saved), saved, "read directory %s", path);
        }
    }
    if (count > 1)
        qsort(names, count, sizeof(*names), compare_names);
    if (!names)
        names = xcalloc(1, sizeof(*names));
    names[count] = NULL;
    *ret_names = names;
    *ret_count = count;
    return 0;
}
