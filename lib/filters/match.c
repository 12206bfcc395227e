/* Matching parsed filters against objects through adaptors, and label-map adaptor helpers. */
#include "lib/filters/filters-internal.h"

#include <string.h>

static bool value_equals(const struct filter_selector *s, const char *value)
{
    return strlen(value) == s->value_len && memcmp(value, s->value, s->value_len) == 0;
}

bool filters_selector_match(const struct filter_selector *s, filters_field_fn field, void *object)
{
    const char *value = NULL;
    bool present = false;
    /* Object fields are C strings, so a fieldpath part holding NUL names nothing. */
    if (!s->fieldpath_has_nul)
        present = field(object, (const char *const *)s->fieldpath, s->fieldpath_len, &value);
    if (!value)
        value = "";
    switch (s->op) {
    case FILTER_OP_PRESENT:
        return present;
    case FILTER_OP_EQUAL:
        return present && value_equals(s, value);
    case FILTER_OP_NOT_EQUAL:
        return !value_equals(s, value);
    case FILTER_OP_MATCHES:
        return s->regex && filter_regex_match(s->regex, value);
    }
    return false;
}

bool filters_match_all(const struct filter_conjunction *c, filters_field_fn field, void *object)
{
    for (size_t i = 0; i < c->len; i++)
        if (!filters_selector_match(&c->selectors[i], field, object))
            return false;
    return true;
}

bool filters_match(const struct filter *f, filters_field_fn field, void *object)
{
    if (!f || f->len == 0)
        return true;
    for (size_t i = 0; i < f->len; i++)
        if (filters_match_all(&f->any[i], field, object))
            return true;
    return false;
}

bool filters_is_always(const struct filter *f)
{
    if (!f || f->len == 0)
        return true;
    for (size_t i = 0; i < f->len; i++)
        if (f->any[i].len == 0)
            return true;
    return false;
}

bool filters_fieldpath_equals(const char *key, const char *const *fieldpath, size_t n)
{
    const char *k = key;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && *k++ != '.')
            return false;
        size_t len = strlen(fieldpath[i]);
        if (strncmp(k, fieldpath[i], len) != 0)
            return false;
        k += len;
    }
    return *k == '\0';
}

bool filters_labels_field(const char *const *keys, const char *const *values, size_t count,
                          const char *const *fieldpath, size_t n, const char **ret_value)
{
    for (size_t i = 0; i < count; i++) {
        if (filters_fieldpath_equals(keys[i], fieldpath, n)) {
            *ret_value = values[i] ? values[i] : "";
            return true;
        }
    }
    return false;
}

bool filters_label_pairs_field(const char *const *pairs, const char *const *fieldpath, size_t n,
                               const char **ret_value)
{
    for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2) {
        if (filters_fieldpath_equals(pairs[i], fieldpath, n)) {
            *ret_value = pairs[i + 1];
            return true;
        }
    }
    return false;
}
