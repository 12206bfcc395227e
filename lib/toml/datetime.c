/* TOML's four datetime forms (RFC 3339 profiles): scanning, range checks and canonical text. */
#include "lib/toml/toml-internal.h"

#include <stdio.h>
#include <string.h>

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Exactly n digits at s (within end) → *ret. */
static bool digits(const char *s, const char *end, int n, int *ret)
{
    if (end - s < n)
        return false;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return true;
}

static bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && is_leap_year(year))
        return 29;
    return days[month - 1];
}

static bool date_valid(const struct toml_datetime *dt)
{
    return dt->year >= 0 && dt->year <= 9999 && dt->month >= 1 && dt->month <= 12 && dt->day >= 1 &&
           dt->day <= days_in_month(dt->year, dt->month);
}

static bool time_valid(const struct toml_datetime *dt)
{
    /* Second 60 is RFC 3339's leap second. */
    return dt->hour >= 0 && dt->hour <= 23 && dt->minute >= 0 && dt->minute <= 59 &&
           dt->second >= 0 && dt->second <= 60 && dt->nanosecond >= 0 &&
           dt->nanosecond <= 999999999 && dt->fraction_digits >= 0 && dt->fraction_digits <= 9;
}

bool toml_datetime_valid(enum toml_kind kind, const struct toml_datetime *dt)
{
    if (!dt)
        return false;
    switch (kind) {
    case TOML_OFFSET_DATETIME:
        return date_valid(dt) && time_valid(dt) && dt->offset_minutes > -24 * 60 &&
               dt->offset_minutes < 24 * 60;
    case TOML_LOCAL_DATETIME:
        return date_valid(dt) && time_valid(dt);
    case TOML_LOCAL_DATE:
        return date_valid(dt);
    case TOML_LOCAL_TIME:
        return time_valid(dt);
    default:
        return false;
    }
}

#define FAIL(where, why)                                                                           \
    do {                                                                                           \
        *ret_error_at = (where);                                                                   \
        *ret_reason = (why);                                                                       \
        return -1;                                                                                 \
    } while (0)

/* HH:MM:SS[.fraction] */
static int scan_time(const char *s, const char *end, struct toml_datetime *dt, const char **ret_end,
                     const char **ret_error_at, const char **ret_reason)
{
    const char *start = s;
    if (!digits(s, end, 2, &dt->hour) || end - s < 3 || s[2] != ':' ||
        !digits(s + 3, end, 2, &dt->minute))
        FAIL(s, "malformed time, expected HH:MM:SS");
    s += 5;
    if (s >= end || *s != ':' || !digits(s + 1, end, 2, &dt->second))
        FAIL(s, "malformed time, expected seconds (HH:MM:SS)");
    s += 3;
    if (s < end && *s == '.') {
        s++;
        if (s >= end || !is_digit((unsigned char)*s))
            FAIL(s, "expected digits after the decimal point of the seconds");
        int n = 0, nanos = 0;
        for (; s < end && is_digit((unsigned char)*s); s++, n++)
            if (n < 9)
                nanos = nanos * 10 + (*s - '0');
        /* Precision beyond nanoseconds is truncated, as the spec allows. */
        dt->fraction_digits = n < 9 ? n : 9;
        for (int i = dt->fraction_digits; i < 9; i++)
            nanos *= 10;
        dt->nanosecond = nanos;
    }
    if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
        FAIL(start, "time out of range");
    *ret_end = s;
    return 0;
}

int toml_datetime_scan(const char *s, const char *end, struct toml_datetime *ret,
                       enum toml_kind *ret_kind, const char **ret_end, const char **ret_error_at,
                       const char **ret_reason)
{
    struct toml_datetime dt = {0};
    const char *start = s;
    if (end - s >= 3 && is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[1]) &&
        s[2] == ':') {
        if (scan_time(s, end, &dt, ret_end, ret_error_at, ret_reason) < 0)
            return -1;
        *ret = dt;
        *ret_kind = TOML_LOCAL_TIME;
        return 0;
    }
    if (!digits(s, end, 4, &dt.year) || end - s < 5 || s[4] != '-' ||
        !digits(s + 5, end, 2, &dt.month) || end - s < 8 || s[7] != '-' ||
        !digits(s + 8, end, 2, &dt.day))
        FAIL(s, "malformed date, expected YYYY-MM-DD");
    s += 10;
    if (s < end && is_digit((unsigned char)*s))
        FAIL(s, "malformed date, expected YYYY-MM-DD");
    if (!date_valid(&dt))
        FAIL(start, "date out of range");
    /* A space separates date and time only when a time follows; otherwise it ends the date. */
    bool has_time = s < end && (*s == 'T' || *s == 't');
    if (s < end && *s == ' ' && end - s >= 4 && is_digit((unsigned char)s[1]) &&
        is_digit((unsigned char)s[2]) && s[3] == ':')
        has_time = true;
    if (!has_time) {
        *ret = dt;
        *ret_kind = TOML_LOCAL_DATE;
        *ret_end = s;
        return 0;
    }
    s++;
    if (scan_time(s, end, &dt, &s, ret_error_at, ret_reason) < 0)
        return -1;
    enum toml_kind kind = TOML_LOCAL_DATETIME;
    if (s < end && (*s == 'Z' || *s == 'z')) {
        kind = TOML_OFFSET_DATETIME;
        s++;
    } else if (s < end && (*s == '+' || *s == '-')) {
        int hours, minutes;
        if (!digits(s + 1, end, 2, &hours) || end - s < 4 || s[3] != ':' ||
            !digits(s + 4, end, 2, &minutes))
            FAIL(s, "malformed time offset, expected +HH:MM or -HH:MM");
        if (hours > 23 || minutes > 59)
            FAIL(s, "time offset out of range");
        dt.offset_minutes = (*s == '-' ? -1 : 1) * (hours * 60 + minutes);
        kind = TOML_OFFSET_DATETIME;
        s += 6;
    }
    *ret = dt;
    *ret_kind = kind;
    *ret_end = s;
    return 0;
}

int toml_datetime_parse(const char *text, size_t len, struct toml_datetime *ret,
                        enum toml_kind *ret_kind)
{
    struct toml_datetime dt;
    enum toml_kind kind;
    const char *end, *error_at, *reason;
    if (toml_datetime_scan(text, text + len, &dt, &kind, &end, &error_at, &reason) < 0 ||
        end != text + len)
        return -1;
    *ret = dt;
    *ret_kind = kind;
    return 0;
}

static size_t format_time(const struct toml_datetime *dt, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%02d:%02d:%02d", dt->hour, dt->minute, dt->second);
    int digits_needed = 0;
    if (dt->nanosecond) {
        digits_needed = 9;
        for (int rest = dt->nanosecond; rest % 10 == 0; rest /= 10)
            digits_needed--;
    }
    int shown = dt->fraction_digits > digits_needed ? dt->fraction_digits : digits_needed;
    if (shown > 0) {
        char fraction[16];
        snprintf(fraction, sizeof(fraction), "%09d", dt->nanosecond);
        n += snprintf(buf + n, size - (size_t)n, ".%.*s", shown, fraction);
    }
    return (size_t)n;
}

size_t toml_datetime_format(enum toml_kind kind, const struct toml_datetime *dt,
                            char buf[TOML_DATETIME_TEXT_MAX])
{
    const size_t size = TOML_DATETIME_TEXT_MAX;
    buf[0] = '\0';
    if (!toml_datetime_valid(kind, dt))
        return 0;
    size_t n = 0;
    if (kind != TOML_LOCAL_TIME)
        n = (size_t)snprintf(buf, size, "%04d-%02d-%02d", dt->year, dt->month, dt->day);
    if (kind == TOML_LOCAL_DATE)
        return n;
    if (kind != TOML_LOCAL_TIME)
        buf[n++] = 'T';
    n += format_time(dt, buf + n, size - n);
    if (kind == TOML_OFFSET_DATETIME) {
        int offset = dt->offset_minutes;
        if (offset == 0)
            n += (size_t)snprintf(buf + n, size - n, "Z");
        else
            n += (size_t)snprintf(buf + n, size - n, "%c%02d:%02d", offset < 0 ? '-' : '+',
                                  (offset < 0 ? -offset : offset) / 60,
                                  (offset < 0 ? -offset : offset) % 60);
    }
    return n;
}
