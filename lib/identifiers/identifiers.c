/* containerd's identifier rules: alphanumeric runs joined by single '.', '_' or '-'. */
#include "lib/identifiers/identifiers.h"
#include "lib/base/alloc.h"
#include "lib/identifiers/gostring.h"

#include <string.h>

static bool is_alnum_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_separator(char c)
{
    return c == '.' || c == '_' || c == '-';
}

/* The pattern in IDENTIFIER_PATTERN, by hand: no separator first, last or twice in a row. */
static bool matches_pattern(const char *s)
{
    bool after_alnum = false;
    for (const char *p = s; *p; p++) {
        if (is_alnum_ascii(*p))
            after_alnum = true;
        else if (is_separator(*p) && after_alnum)
            after_alnum = false;
        else
            return false;
    }
    return after_alnum;
}

bool identifier_is_valid(const char *s)
{
    return s && s[0] && strlen(s) <= IDENTIFIER_MAX_LENGTH && matches_pattern(s);
}

int identifier_validate(const char *s, struct berth_error **err)
{
    if (!s || !s[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "identifier must not be empty");
    size_t len = strlen(s);
    if (len > IDENTIFIER_MAX_LENGTH) {
        _cleanup_free_ char *quoted = go_quote(s, len);
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "identifier %s greater than maximum length (%d characters)", quoted,
                        IDENTIFIER_MAX_LENGTH);
    }
    if (!matches_pattern(s)) {
        _cleanup_free_ char *quoted = go_quote(s, len);
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "identifier %s must match %s", quoted,
                        IDENTIFIER_PATTERN);
    }
    return 0;
}
