/* Compiling and running translated regexps, pinned to the C locale so bytes are bytes. */
#include "lib/base/alloc.h"
#include "lib/filters/filters-internal.h"
#include "lib/identifiers/gostring.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* regcomp and regexec read the thread's locale: pin it to C so bytes are bytes. */
static locale_t enter_c_locale(void)
{
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void leave_c_locale(locale_t previous)
{
    if (previous)
        uselocale(previous);
}

int filter_regex_compile(const char *pattern, size_t len, regex_t **ret, size_t *ret_weight,
                         char **ret_reason)
{
    _cleanup_free_ char *posix = NULL;
    int cflags;
    if (filter_regex_translate(pattern, len, &posix, &cflags, ret_weight, ret_reason) < 0)
        return -1;
    regex_t *re = xmalloc(sizeof(*re));
    locale_t previous = enter_c_locale();
    int r = regcomp(re, posix, REG_EXTENDED | REG_NOSUB | cflags);
    leave_c_locale(previous);
    if (r != 0) {
        char buf[128];
        regerror(r, re, buf, sizeof(buf));
        free(re);
        _cleanup_free_ char *quoted = go_quote(pattern, len);
        *ret_reason = xasprintf("%s in Berth's POSIX translation: %s", buf, quoted);
        return -1;
    }
    *ret = re;
    return 0;
}

bool filter_regex_match(const regex_t *re, const char *value)
{
    locale_t previous = enter_c_locale();
    int r = regexec(re, value, 0, NULL, 0);
    leave_c_locale(previous);
    return r == 0;
}

void filter_regex_free(regex_t *re)
{
    if (!re)
        return;
    regfree(re);
    free(re);
}
