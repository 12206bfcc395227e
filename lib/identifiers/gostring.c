/* UTF-8 decoding, rune classes and %q quoting with Go's behaviour, for containerd's wording. */
#include "lib/identifiers/gostring.h"
#include "lib/base/alloc.h"

#include <stdio.h>
#include <string.h>

int32_t go_utf8_decode(const char *s, size_t len, size_t *ret_width)
{
    const unsigned char *p = (const unsigned char *)s;
    *ret_width = len ? 1 : 0;
    if (!len)
        return GO_RUNE_ERROR;
    unsigned char c = p[0];
    if (c < 0x80)
        return c;
    size_t need;
    int32_t r, min;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2, r = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3, r = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4, r = c & 0x07, min = 0x10000;
    } else {
        return GO_RUNE_ERROR;
    }
    if (len < need)
        return GO_RUNE_ERROR;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return GO_RUNE_ERROR;
        r = (r << 6) | (p[i] & 0x3F);
    }
    if (r < min || r > GO_MAX_RUNE || (r >= 0xD800 && r <= 0xDFFF))
        return GO_RUNE_ERROR;
    *ret_width = need;
    return r;
}

size_t go_utf8_encode(int32_t r, char out[4])
{
    unsigned char *o = (unsigned char *)out;
    if (r < 0 || r > GO_MAX_RUNE || (r >= 0xD800 && r <= 0xDFFF))
        r = GO_RUNE_ERROR;
    if (r < 0x80) {
        o[0] = (unsigned char)r;
        return 1;
    }
    if (r < 0x800) {
        o[0] = 0xC0 | (r >> 6);
        o[1] = 0x80 | (r & 0x3F);
        return 2;
    }
    if (r < 0x10000) {
        o[0] = 0xE0 | (r >> 12);
        o[1] = 0x80 | ((r >> 6) & 0x3F);
        o[2] = 0x80 | (r & 0x3F);
        return 3;
    }
    o[0] = 0xF0 | (r >> 18);
    o[1] = 0x80 | ((r >> 12) & 0x3F);
    o[2] = 0x80 | ((r >> 6) & 0x3F);
    o[3] = 0x80 | (r & 0x3F);
    return 4;
}

struct rune_range {
    int32_t lo, hi;
};

/* Non-ASCII space separators (Zs), which are graphic but neither printable nor value runes. */
static const struct rune_range space_separators[] = {
    {0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200A},
    {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

/* Runes outside ASCII that are not graphic: Cc, Cf, Zl, Zp, Co, Cs and noncharacters. */
static const struct rune_range non_graphic[] = {
    {0x0080, 0x009F},    {0x00AD, 0x00AD},   {0x0600, 0x0605},   {0x061C, 0x061C},
    {0x06DD, 0x06DD},    {0x070F, 0x070F},   {0x0890, 0x0891},   {0x08E2, 0x08E2},
    {0x180E, 0x180E},    {0x200B, 0x200F},   {0x2028, 0x202E},   {0x2060, 0x2064},
    {0x2066, 0x206F},    {0xD800, 0xF8FF},   {0xFDD0, 0xFDEF},   {0xFEFF, 0xFEFF},
    {0xFFF9, 0xFFFB},    {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},
    {0x1BCA0, 0x1BCA3},  {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
    {0xF0000, 0x10FFFF},
};

static bool in_ranges(int32_t r, const struct rune_range *ranges, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r >= ranges[i].lo && r <= ranges[i].hi)
            return true;
    return false;
}

bool go_rune_is_space(int32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0x2028:
    case 0x2029:
        return true;
    }
    return r > 0x7F && in_ranges(r, space_separators, ARRAY_SIZE(space_separators));
}

bool go_rune_is_graphic(int32_t r)
{
    if (r < 0 || r > GO_MAX_RUNE)
        return false;
    if (r < 0x80)
        return r >= 0x20 && r < 0x7F;
    /* The last two code points of every plane are noncharacters. */
    if ((r & 0xFFFE) == 0xFFFE)
        return false;
    return !in_ranges(r, non_graphic, ARRAY_SIZE(non_graphic));
}

bool go_rune_is_print(int32_t r)
{
    if (r == ' ')
        return true;
    return go_rune_is_graphic(r) && !go_rune_is_space(r) &&
           !(r > 0x7F && in_ranges(r, space_separators, ARRAY_SIZE(space_separators)));
}

char *go_quote(const char *s, size_t len)
{
    /* The worst case is \U0010ffff (10 bytes) per 4 input bytes or \xff per byte. */
    char *out = xmalloc(len * 4 + 3), *o = out;
    *o++ = '"';
    for (size_t i = 0; i < len;) {
        size_t width;
        int32_t r = go_utf8_decode(s + i, len - i, &width);
        if (r == GO_RUNE_ERROR && width == 1) {
            o += sprintf(o, "\\x%02x", (unsigned char)s[i]);
            i++;
            continue;
        }
        if (r == '"' || r == '\\') {
            *o++ = '\\';
            *o++ = (char)r;
        } else if (go_rune_is_print(r)) {
            memcpy(o, s + i, width);
            o += width;
        } else {
            switch (r) {
            case '\a':
                o = stpcpy(o, "\\a");
                break;
            case '\b':
                o = stpcpy(o, "\\b");
                break;
            case '\f':
                o = stpcpy(o, "\\f");
                break;
            case '\n':
                o = stpcpy(o, "\\n");
                break;
            case '\r':
                o = stpcpy(o, "\\r");
                break;
            case '\t':
                o = stpcpy(o, "\\t");
                break;
            case '\v':
                o = stpcpy(o, "\\v");
                break;
            default:
                if (r < ' ' || r == 0x7F)
                    o += sprintf(o, "\\x%02x", (unsigned)r);
                else if (r < 0x10000)
                    o += sprintf(o, "\\u%04x", (unsigned)r);
                else
                    o += sprintf(o, "\\U%08x", (unsigned)r);
            }
        }
        i += width;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}
