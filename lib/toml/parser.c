/* TOML's document structure: key/value pairs, [tables], [[arrays of tables]], inline values. */
#include "lib/toml/toml-internal.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

struct parser {
    struct toml_scanner s;
    struct toml_value *root;
    struct toml_value *section; /* the table the last header opened; the root at first */
    int section_depth;
    size_t nodes;
};

static int parse_value(struct parser *p, int depth, struct toml_value **ret);

/* A key path as TOML text for messages, cut short when long. */
static char *key_text(const struct toml_key *key, size_t count)
{
    struct toml_buffer b = {0};
    toml_buffer_add(&b, "", 0);
    for (size_t i = 0; i < count; i++) {
        if (i)
            toml_buffer_addc(&b, '.');
        /* Only the start of a huge key is shown (a cut UTF-8 sequence shows as U+FFFD). */
        size_t len = key->parts[i].len < 120 ? key->parts[i].len : 121;
        toml_buffer_add_key(&b, key->parts[i].name, len);
        if (b.len > 120) {
            size_t cut = 120;
            while (cut > 0 && ((unsigned char)b.data[cut] & 0xc0) == 0x80)
                cut--;
            b.len = cut;
            toml_buffer_add(&b, "...", 3);
            break;
        }
    }
    return b.data;
}

/* The article for a kind's name in messages: "an integer", "a table". */
static const char *article(enum toml_kind kind)
{
    return strchr("aeiou", toml_kind_name(kind)[0]) ? "an" : "a";
}

static int count_node(struct parser *p, const char *at)
{
    if (++p->nodes > TOML_MAX_NODES)
        return toml_scan_fail(&p->s, at, "document has more than %u values", TOML_MAX_NODES);
    return 0;
}

static int check_depth(struct parser *p, int depth, const char *at)
{
    if (depth > TOML_MAX_DEPTH)
        return toml_scan_fail(&p->s, at, "nesting deeper than %d tables and arrays",
                              TOML_MAX_DEPTH);
    return 0;
}

/* Adds a new container or leaf to table under the key part (whose name it takes). */
static int add_entry(struct parser *p, struct toml_value *table, struct toml_key_part *part,
                     struct toml_value *value)
{
    if (table->u.table.count >= TOML_MAX_TABLE_KEYS) {
        toml_free(value);
        return toml_scan_fail(&p->s, part->at, "table has more than %u keys", TOML_MAX_TABLE_KEYS);
    }
    /* The table owns the name now; the key keeps a view of it for later messages. */
    toml_table_add(table, part->name, part->len, value);
    part->borrowed = true;
    return 0;
}

/* A new table under table[part], after the node and depth checks. */
static struct toml_value *add_table(struct parser *p, struct toml_value *table,
                                    struct toml_key_part *part, int depth,
                                    enum toml_table_origin origin)
{
    if (count_node(p, part->at) < 0 || check_depth(p, depth, part->at) < 0)
        return NULL;
    struct toml_value *child = toml_table_new();
    child->origin = origin;
    if (add_entry(p, table, part, child) < 0)
        return NULL;
    return child;
}

/* Header navigation: existing tables and [[array]] elements may be walked through. */
static struct toml_value *header_descend(struct parser *p, struct toml_value *t,
                                         const struct toml_key *key, size_t i, int *depth)
{
    struct toml_key_part *part = &key->parts[i];
    struct toml_entry *e = toml_table_find(t, part->name, part->len);
    if (!e) {
        *depth += 1;
        return add_table(p, t, part, *depth, TOML_TABLE_IMPLICIT);
    }
    struct toml_value *v = e->value;
    if (v->kind == TOML_TABLE && v->origin != TOML_TABLE_INLINE) {
        *depth += 1;
        return v;
    }
    if (v->kind == TOML_ARRAY && v->table_array) {
        *depth += 2;
        return v->u.array.items[v->u.array.count - 1];
    }
    _cleanup_free_ char *name = key_text(key, i + 1);
    if (v->kind == TOML_TABLE)
        toml_scan_fail(&p->s, part->at, "inline table %s cannot be extended", name);
    else if (v->kind == TOML_ARRAY)
        toml_scan_fail(&p->s, part->at, "%s is a static array, not an array of tables", name);
    else
        toml_scan_fail(&p->s, part->at, "%s is already %s %s, not a table", name, article(v->kind),
                       toml_kind_name(v->kind));
    return NULL;
}

/* [a.b] or [[a.b]]: opens the section later key/value pairs go into. */
static int parse_header(struct parser *p)
{
    struct toml_scanner *s = &p->s;
    const char *start = s->pos;
    bool is_array = toml_scan_peek(s, 1) == '[';
    s->pos += is_array ? 2 : 1;
    toml_scan_skip_ws(s);
    struct toml_key key = {0};
    if (toml_scan_key(s, &key) < 0)
        return -1;
    int rc = -1;
    char *name = NULL;
    toml_scan_skip_ws(s);
    if (toml_scan_peek(s, 0) != ']' || (is_array && toml_scan_peek(s, 1) != ']')) {
        toml_scan_fail(s, s->pos, "expected '%s' to close the table header", is_array ? "]]" : "]");
        goto out;
    }
    s->pos += is_array ? 2 : 1;

    struct toml_value *t = p->root;
    int depth = 0;
    for (size_t i = 0; i + 1 < key.count; i++)
        if (!(t = header_descend(p, t, &key, i, &depth)))
            goto out;
    struct toml_key_part *last = &key.parts[key.count - 1];
    struct toml_entry *e = toml_table_find(t, last->name, last->len);
    name = key_text(&key, key.count);
    if (!is_array) {
        if (!e) {
            if (!(t = add_table(p, t, last, ++depth, TOML_TABLE_EXPLICIT)))
                goto out;
        } else if (e->value->kind == TOML_TABLE && e->value->origin == TOML_TABLE_IMPLICIT) {
            t = e->value;
            t->origin = TOML_TABLE_EXPLICIT;
            depth++;
        } else {
            if (e->value->kind == TOML_TABLE)
                toml_scan_fail(s, start, "table %s is already defined", name);
            else
                toml_scan_fail(s, start, "cannot make %s a table: it is already %s %s", name,
                               article(e->value->kind),
                               e->value->table_array ? "array of tables"
                                                     : toml_kind_name(e->value->kind));
            goto out;
        }
    } else {
        struct toml_value *array;
        if (!e) {
            if (count_node(p, last->at) < 0 || check_depth(p, depth + 1, last->at) < 0)
                goto out;
            array = toml_array_new();
            array->table_array = true;
            if (add_entry(p, t, last, array) < 0)
                goto out;
        } else if (e->value->kind == TOML_ARRAY && e->value->table_array) {
            array = e->value;
        } else {
            if (e->value->kind == TOML_ARRAY)
                toml_scan_fail(s, start, "cannot make %s an array of tables: it is a static array",
                               name);
            else
                toml_scan_fail(s, start, "cannot make %s an array of tables: it is already %s %s",
                               name, article(e->value->kind), toml_kind_name(e->value->kind));
            goto out;
        }
        depth += 2;
        if (count_node(p, last->at) < 0 || check_depth(p, depth, last->at) < 0)
            goto out;
        t = toml_table_new();
        toml_array_push(array, t);
    }
    p->section = t;
    p->section_depth = depth;
    rc = 0;
out:
    free(name);
    toml_key_clear(&key);
    return rc;
}

/* key = value, into table (at depth); dotted keys make or extend tables they made. */
static int parse_keyval(struct parser *p, struct toml_value *table, int depth)
{
    struct toml_scanner *s = &p->s;
    struct toml_key key = {0};
    if (toml_scan_key(s, &key) < 0)
        return -1;
    int rc = -1;
    toml_scan_skip_ws(s);
    if (toml_scan_peek(s, 0) != '=') {
        char buf[32];
        toml_scan_fail(s, s->pos, "expected '=' after the key, found %s",
                       toml_scan_describe(s, s->pos, buf));
        goto out;
    }
    s->pos++;
    toml_scan_skip_ws(s);

    struct toml_value *t = table;
    for (size_t i = 0; i + 1 < key.count; i++) {
        struct toml_key_part *part = &key.parts[i];
        struct toml_entry *e = toml_table_find(t, part->name, part->len);
        depth++;
        if (!e) {
            if (!(t = add_table(p, t, part, depth, TOML_TABLE_DOTTED)))
                goto out;
            continue;
        }
        if (e->value->kind == TOML_TABLE && e->value->origin == TOML_TABLE_DOTTED) {
            t = e->value;
            continue;
        }
        _cleanup_free_ char *name = key_text(&key, i + 1);
        if (e->value->kind != TOML_TABLE)
            toml_scan_fail(s, part->at, "%s is already %s %s, not a table", name,
                           article(e->value->kind), toml_kind_name(e->value->kind));
        else if (e->value->origin == TOML_TABLE_INLINE)
            toml_scan_fail(s, part->at, "inline table %s cannot be extended", name);
        else
            toml_scan_fail(s, part->at,
                           "table %s is defined by a header; dotted keys cannot add to it", name);
        goto out;
    }
    struct toml_key_part *last = &key.parts[key.count - 1];
    if (toml_table_find(t, last->name, last->len)) {
        _cleanup_free_ char *name = key_text(&key, key.count);
        toml_scan_fail(s, last->at, "duplicate key %s", name);
        goto out;
    }
    struct toml_value *value;
    if (parse_value(p, depth, &value) < 0)
        goto out;
    rc = add_entry(p, t, last, value);
out:
    toml_key_clear(&key);
    return rc;
}

/* [ values ], where newlines and comments may appear between values and commas. */
static int parse_array(struct parser *p, int depth, struct toml_value **ret)
{
    struct toml_scanner *s = &p->s;
    const char *start = s->pos;
    if (check_depth(p, depth, start) < 0)
        return -1;
    _cleanup_toml_ struct toml_value *array = toml_array_new();
    s->pos++;
    for (;;) {
        if (toml_scan_skip_blank(s) < 0)
            return -1;
        if (toml_scan_peek(s, 0) == ']')
            break;
        if (toml_scan_eof(s))
            return toml_scan_fail(s, start, "unterminated array");
        struct toml_value *item = NULL;
        if (parse_value(p, depth, &item) < 0)
            return -1;
        toml_array_push(array, item);
        if (toml_scan_skip_blank(s) < 0)
            return -1;
        int c = toml_scan_peek(s, 0);
        if (c == ',') {
            s->pos++;
            continue;
        }
        if (c == ']')
            break;
        if (c < 0)
            return toml_scan_fail(s, start, "unterminated array");
        return toml_scan_fail(s, s->pos, "expected ',' or ']' after an array item");
    }
    s->pos++;
    *ret = steal_ptr(array);
    return 0;
}

/* { k = v, ... } on one line, without a trailing comma; closed to later additions. */
static int parse_inline_table(struct parser *p, int depth, struct toml_value **ret)
{
    struct toml_scanner *s = &p->s;
    if (check_depth(p, depth, s->pos) < 0)
        return -1;
    _cleanup_toml_ struct toml_value *table = toml_table_new();
    table->origin = TOML_TABLE_INLINE;
    s->pos++;
    toml_scan_skip_ws(s);
    if (toml_scan_peek(s, 0) == '}') {
        s->pos++;
        *ret = steal_ptr(table);
        return 0;
    }
    for (;;) {
        toml_scan_skip_ws(s);
        if (parse_keyval(p, table, depth) < 0)
            return -1;
        toml_scan_skip_ws(s);
        int c = toml_scan_peek(s, 0);
        if (c == '}')
            break;
        if (c != ',') {
            if (toml_scan_at_newline(s) || c == '\r')
                return toml_scan_fail(s, s->pos, "newline inside an inline table");
            return toml_scan_fail(s, s->pos, "expected ',' or '}' after an inline table entry");
        }
        s->pos++;
        toml_scan_skip_ws(s);
        if (toml_scan_peek(s, 0) == '}')
            return toml_scan_fail(s, s->pos - 1, "trailing comma in an inline table");
    }
    s->pos++;
    *ret = steal_ptr(table);
    return 0;
}

/* Any value; containers it makes sit at depth + 1. */
static int parse_value(struct parser *p, int depth, struct toml_value **ret)
{
    struct toml_scanner *s = &p->s;
    if (count_node(p, s->pos) < 0)
        return -1;
    switch (toml_scan_peek(s, 0)) {
    case '"':
    case '\'': {
        char *text;
        size_t len;
        if (toml_scan_string(s, &text, &len) < 0)
            return -1;
        struct toml_value *v = toml_value_new(TOML_STRING);
        v->u.string.text = text;
        v->u.string.len = len;
        *ret = v;
        return 0;
    }
    case '[':
        return parse_array(p, depth + 1, ret);
    case '{':
        return parse_inline_table(p, depth + 1, ret);
    default:
        return toml_scan_scalar(s, ret);
    }
}

static int parse_document(struct parser *p)
{
    struct toml_scanner *s = &p->s;
    if (s->end - s->pos >= 3 && memcmp(s->pos, "\xef\xbb\xbf", 3) == 0)
        s->pos += 3; /* a byte order mark may start the document */
    for (;;) {
        if (toml_scan_skip_blank(s) < 0)
            return -1;
        if (toml_scan_eof(s))
            return 0;
        if (toml_scan_peek(s, 0) == '[') {
            if (parse_header(p) < 0)
                return -1;
        } else if (parse_keyval(p, p->section, p->section_depth) < 0) {
            return -1;
        }
        if (toml_scan_end_of_line(s) < 0)
            return -1;
    }
}

int toml_parse(const char *data, size_t len, const char *filename, struct toml_value **ret_root,
               struct berth_error **err)
{
    if (!filename)
        filename = "<input>";
    if (len > TOML_MAX_INPUT_SIZE)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "%s:1:1: document is %zu bytes, more than the limit of %u", filename, len,
                        TOML_MAX_INPUT_SIZE);
    if (!data) {
        data = "";
        len = 0;
    }
    struct parser p = {
        .s = {.data = data, .pos = data, .end = data + len, .filename = filename, .err = err},
    };
    if (toml_scan_check_utf8(&p.s) < 0)
        return -1;
    _cleanup_toml_ struct toml_value *root = toml_table_new();
    p.root = p.section = root;
    if (parse_document(&p) < 0)
        return -1;
    *ret_root = steal_ptr(root);
    return 0;
}

int toml_parse_file(const char *path, struct toml_value **ret_root, struct berth_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "stat %s", path);
    if (!S_ISREG(st.st_mode))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "%s: not a regular file", path);
    /* Read one byte past the limit so a file that grew since fstat is still caught. */
    size_t cap = (size_t)st.st_size < TOML_MAX_INPUT_SIZE ? (size_t)st.st_size + 1
                                                          : (size_t)TOML_MAX_INPUT_SIZE + 1;
    _cleanup_free_ char *data = xmalloc(cap);
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(fd, data + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "read %s", path);
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap && cap <= TOML_MAX_INPUT_SIZE) {
            cap = cap * 2 < (size_t)TOML_MAX_INPUT_SIZE + 1 ? cap * 2
                                                            : (size_t)TOML_MAX_INPUT_SIZE + 1;
            data = xrealloc(data, cap);
        }
    }
    return toml_parse(data, len, path, ret_root, err);
}
