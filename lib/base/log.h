/* Logging in containerd's logfmt (time=... level=... msg=... key=value) or JSON. */
#pragma once

#include <stdarg.h>
#include <stdio.h>

enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_FATAL };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_format(enum log_format format);
void log_set_output(FILE *out);
/* Parses containerd's level names (trace, debug, info, warn/warning, error, fatal, panic). */
int log_level_parse(const char *name, enum log_level *ret_level);
const char *log_level_name(enum log_level level);
static inline int log_enabled(enum log_level level)
{
    return level >= log_get_level();
}

/*
 * Writes one record. `fields` is NULL or a NULL-terminated list of key, value pairs
 * (containerd's field names: "namespace", "id", "error", ...); values must not be NULL.
 */
void log_record(enum log_level level, const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_recordv(enum log_level level, const char *const *fields, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define LOG_FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define log_trace(...)  log_record(LOG_TRACE, NULL, __VA_ARGS__)
#define log_debug(...)  log_record(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)   log_record(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...)   log_record(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...)  log_record(LOG_ERROR, NULL, __VA_ARGS__)
