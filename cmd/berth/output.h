/* Output helpers of the berth CLI: ctr's tabwriter tables and Go-style JSON. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A table laid out as Go's text/tabwriter with ctr's settings: every tab-terminated cell is
 * padded to its column's width plus `padding` spaces (minwidth as given); a trailing cell
 * without a tab is printed as is.
 */
struct table;
struct table *table_new(size_t minwidth, size_t padding);
/* The same with '\t' as the padding character (ctr's content tables): widths round up to tabs. */
struct table *table_new_tabs(size_t minwidth, size_t tabwidth, size_t padding);
/* Adds a line; cells separated (and terminated) by '\t' as in ctr's Fprintf formats. */
void table_add(struct table *t, const char *line_fmt, ...) __attribute__((format(printf, 2, 3)));
void table_print(struct table *t);

/* A growable string. */
struct strbuf {
    char *data;
    size_t len, cap;
};
void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_json_string(struct strbuf *b, const char *s, size_t n);

/* go-units' HumanSize ("11B", "1.049MB") and HumanDuration ("Less than a second", "3 days"). */
void units_human_size(struct strbuf *b, double size);
void units_human_duration(struct strbuf *b, int64_t ns);

/*
 * A UTC instant as Go prints a time.Time: "2006-01-02 15:04:05.999999999 +0000 UTC" (String) or,
 * with rfc3339, "2006-01-02T15:04:05.999999999Z" (its JSON); trailing zeros of the fraction go.
 */
void go_time(struct strbuf *b, int64_t seconds, int32_t nanos, bool rfc3339);

/*
 * A protobuf message as Go's encoding/json renders the struct protoc-gen-go generates for it:
 * proto field names, empty fields omitted, maps as objects, bytes as base64, 64-bit ints as
 * numbers. indent NULL gives one line; otherwise MarshalIndent with that indent.
 */
void pb_to_go_json(struct strbuf *b, const ProtobufCMessage *m, const char *indent);
