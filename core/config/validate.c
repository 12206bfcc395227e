/* Startup checks on a loaded config, and Go duration parsing for [timeouts] and plugin settings. */
#include "core/config/config-internal.h"
#include "lib/base/log.h"

#include <stdint.h>
#include <string.h>

static uint64_t duration_unit(const char *unit, size_t len)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1},
        {"us", 1000},
        {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
        {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
        {"ms", 1000000},
        {"s", 1000000000ull},
        {"m", 60ull * 1000000000ull},
        {"h", 3600ull * 1000000000ull},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].name) == len && memcmp(units[i].name, unit, len) == 0)
            return units[i].ns;
    return 0;
}

int config_parse_duration(const char *text, int64_t *ret_ns)
{
    const uint64_t limit = (uint64_t)1 << 63; /* |INT64_MIN| */
    const char *p = text;
    bool negative = false;
    if (*p == '-' || *p == '+')
        negative = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *ret_ns = 0;
        return 0;
    }
    if (!*p)
        return -1;
    uint64_t total = 0;
    while (*p) {
        uint64_t whole = 0, fraction = 0, scale = 1;
        bool digits = false;
        for (; *p >= '0' && *p <= '9'; p++, digits = true) {
            if (whole > (limit - 9) / 10)
                return -1;
            whole = whole * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
            p++;
            bool overflow = false;
            for (; *p >= '0' && *p <= '9'; p++, digits = true) {
                /* as Go does, digits past what 63 bits hold are dropped */
                if (overflow || fraction > (limit - 9) / 10) {
                    overflow = true;
                    continue;
                }
                fraction = fraction * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
        if (!digits)
            return -1;
        const char *unit = p;
        while (*p && *p != '.' && !(*p >= '0' && *p <= '9'))
            p++;
        uint64_t ns = duration_unit(unit, (size_t)(p - unit));
        if (!ns || whole > limit / ns)
            return -1;
        uint64_t value = whole * ns;
        if (fraction) {
            value += (uint64_t)((double)fraction * ((double)ns / (double)scale));
            if (value > limit)
                return -1;
        }
        if (value > limit - total)
            return -1;
        total += value;
    }
    if (!negative && total > (uint64_t)INT64_MAX)
        return -1;
    *ret_ns = negative ? (int64_t)(0 - total) : (int64_t)total;
    return 0;
}

static int check_uris(const struct config_strings *list, const char *what, struct berth_error **err)
{
    for (size_t i = 0; i < list->count; i++)
        if (!strchr(list->items[i], '.'))
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "invalid %s plugin URI \"%s\" expect io.containerd.x.vx", what,
                            list->items[i]);
    return 0;
}

int config_validate(const struct berth_config *c, struct berth_error **err)
{
    if (c->version > CONFIG_VERSION)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "expected config version equal to or less than `%d`, got `%d`",
                        CONFIG_VERSION, c->version);
    if (check_uris(&c->disabled_plugins, "disabled", err) < 0 ||
        check_uris(&c->required_plugins, "required", err) < 0)
        return -1;
    if (!*c->root)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "root must be specified");
    if (!*c->state)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "state must be specified");
    if (strcmp(c->root, c->state) == 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "root and state must be different paths");
    if (!*c->grpc.address)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "grpc address cannot be empty");
    if (c->grpc.max_recv_message_size <= 0 || c->grpc.max_send_message_size <= 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "grpc max_recv_message_size and max_send_message_size must be positive");
    /* the kernel's range for oom_score_adj, which containerd writes it to */
    if (c->oom_score < -1000 || c->oom_score > 1000)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "oom_score %lld is out of range [-1000, 1000]", (long long)c->oom_score);
    for (size_t i = 0; i < c->n_timeouts; i++) {
        int64_t ns;
        if (config_parse_duration(c->timeouts[i].duration, &ns) < 0)
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "unable to parse %s into a time duration (timeouts.\"%s\")",
                            c->timeouts[i].duration, c->timeouts[i].name);
    }
    enum log_level level;
    if (*c->debug.level && log_level_parse(c->debug.level, &level) < 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "not a valid log level \"%s\"",
                        c->debug.level);
    if (*c->debug.format && strcmp(c->debug.format, "text") != 0 &&
        strcmp(c->debug.format, "json") != 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "unknown log format \"%s\" (text or json)",
                        c->debug.format);
    return 0;
}
