/* logfmt/JSON log records, one write per record so lines never interleave. */
#include "lib/base/log.h"
#include "lib/base/alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static _Atomic int current_level = LOG_INFO;
static _Atomic int current_format = LOG_FORMAT_TEXT;
static FILE *_Atomic output;

static const char *const level_names[] = {"trace", "debug", "info", "warning", "error", "fatal"};

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

void log_set_format(enum log_format format)
{
    current_format = format;
}

void log_set_output(FILE *out)
{
    output = out;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level < ARRAY_SIZE(level_names) ? level_names[level] : "info";
}

int log_level_parse(const char *name, enum log_level *ret_level)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {
        {"trace", LOG_TRACE},  {"debug", LOG_DEBUG}, {"info", LOG_INFO},   {"warn", LOG_WARN},
        {"warning", LOG_WARN}, {"error", LOG_ERROR}, {"fatal", LOG_FATAL}, {"panic", LOG_FATAL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *ret_level = names[i].level;
            return 0;
        }
    }
    return -1;
}

/* A growable buffer for one record. */
struct line {
    char *data;
    size_t len, cap;
};

static void line_put(struct line *l, const char *s, size_t n)
{
    l->data = xreallocarray_grow(l->data, &l->cap, l->len + n + 1, 1);
    memcpy(l->data + l->len, s, n);
    l->len += n;
    l->data[l->len] = '\0';
}

static void line_puts(struct line *l, const char *s)
{
    line_put(l, s, strlen(s));
}

/* logrus quotes a value when it holds anything beyond a plain token. */
static bool needs_quoting(const char *s)
{
    if (!*s)
        return true;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-._/@^+", c)))
            return true;
    }
    return false;
}

static void put_escaped(struct line *l, const char *s)
{
    line_puts(l, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char buf[8];
        switch (*p) {
        case '"':
            line_puts(l, "\\\"");
            break;
        case '\\':
            line_puts(l, "\\\\");
            break;
        case '\n':
            line_puts(l, "\\n");
            break;
        case '\t':
            line_puts(l, "\\t");
            break;
        case '\r':
            line_puts(l, "\\r");
            break;
        default:
            if (*p < 0x20) {
                snprintf(buf, sizeof(buf), "\\u%04x", *p);
                line_puts(l, buf);
            } else {
                line_put(l, (const char *)p, 1);
            }
        }
    }
    line_puts(l, "\"");
}

static void put_text_field(struct line *l, const char *key, const char *value)
{
    if (l->len)
        line_puts(l, " ");
    line_puts(l, key);
    line_puts(l, "=");
    if (needs_quoting(value))
        put_escaped(l, value);
    else
        line_puts(l, value);
}

static void put_json_field(struct line *l, const char *key, const char *value)
{
    line_puts(l, l->len ? "," : "{");
    put_escaped(l, key);
    line_puts(l, ":");
    put_escaped(l, value);
}

void log_recordv(enum log_level level, const char *const *fields, const char *fmt, va_list ap)
{
    if (!log_enabled(level))
        return;
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%09ldZ", ts.tv_nsec);

    bool json = current_format == LOG_FORMAT_JSON;
    void (*put)(struct line *, const char *, const char *) = json ? put_json_field : put_text_field;
    struct line l = {0};
    put(&l, "time", when);
    put(&l, "level", log_level_name(level));
    put(&l, "msg", msg);
    for (size_t i = 0; fields && fields[i] && fields[i + 1]; i += 2)
        put(&l, fields[i], fields[i + 1]);
    line_puts(&l, json ? "}\n" : "\n");
    FILE *out = output ? output : stderr;
    fwrite(l.data, 1, l.len, out);
    fflush(out);
    free(l.data);
}

void log_record(enum log_level level, const char *const *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_recordv(level, fields, fmt, ap);
    va_end(ap);
}
