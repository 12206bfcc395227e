/* Go's string semantics where Berth must read or word things exactly as containerd does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GO_RUNE_ERROR 0xFFFD
#define GO_MAX_RUNE   0x10FFFF

/*
 * Decodes the first UTF-8 sequence of s[0..len) as Go's utf8.DecodeRune does: returns the rune
 * and its width; invalid, overlong or surrogate sequences give GO_RUNE_ERROR with width 1, and an
 * empty input gives GO_RUNE_ERROR with width 0.
 */
int32_t go_utf8_decode(const char *s, size_t len, size_t *ret_width);
/* Encodes r as UTF-8 into out (4 bytes); invalid runes encode as U+FFFD. Returns the width. */
size_t go_utf8_encode(int32_t r, char out[4]);

/*
 * Character classes as Go's unicode package has them. Spaces are exact; for runes outside ASCII,
 * graphic and printable use built-in ranges (controls, format characters, line and paragraph
 * separators, private use, surrogates, noncharacters) rather than the Unicode tables, so an
 * unassigned code point counts as graphic.
 */
bool go_rune_is_space(int32_t r);
bool go_rune_is_graphic(int32_t r);
bool go_rune_is_print(int32_t r);

/* s[0..len) as Go's strconv.Quote (and so fmt's %q) writes it. Returns a malloc'd string. */
char *go_quote(const char *s, size_t len);
