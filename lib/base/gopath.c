/* Go's lexical path cleaning, as path.Clean and path.Join do it. */
#include "lib/base/gopath.h"
#include "lib/base/alloc.h"

#include <stdbool.h>
#include <string.h>

char *go_path_clean(const char *p, size_t len)
{
    if (len == 0)
        return xstrdup(".");
    bool rooted = p[0] == '/';
    char *out = xmalloc(len + 2);
    size_t w = 0, r = 0, dotdot = 0;
    if (rooted) {
        out[w++] = '/';
        r = 1;
        dotdot = 1;
    }
    while (r < len) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == len || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == len || p[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            for (; r < len && p[r] != '/'; r++)
                out[w++] = p[r];
        }
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = '\0';
    return out;
}

char *go_path_join(const char *a, const char *b)
{
    if (!*a && !*b)
        return xstrdup("");
    if (!*a)
        return go_path_clean(b, strlen(b));
    if (!*b)
        return go_path_clean(a, strlen(a));
    _cleanup_free_ char *joined = xasprintf("%s/%s", a, b);
    return go_path_clean(joined, strlen(joined));
}
