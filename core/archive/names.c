/* Image names for imported manifests: the transfer service's and client.Import's rules. */
#include "core/archive/archive-internal.h"
#include "lib/base/alloc.h"

#include <string.h>
#include <time.h>

char *archive_import_default_prefix(time_t now)
{
    struct tm tm;
    localtime_r(&now, &tm);
    return xasprintf("import-%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* isImagePrefix: s starts with prefix, followed by nothing or one of "/:@". */
static bool is_image_prefix(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return false;
    return s[n] == '\0' || s[n] == '/' || s[n] == ':' || s[n] == '@';
}

/*
 * refTranslator: a full reference (one with "/", ":" or "@") is kept, unless check_prefix and it
 * is not under image; a bare tag becomes image:tag. An empty image gives "". Malloc'd.
 */
static char *translate_ref(const char *image, bool check_prefix, const char *ref)
{
    if (!image || !*image)
        return xstrdup("");
    if (strpbrk(ref, "/:@")) {
        if (check_prefix && !is_image_prefix(ref, image))
            return xstrdup("");
        return xstrdup(ref);
    }
    return xasprintf("%s:%s", image, ref);
}

/*
 * The transfer service's imageName: a containerd name annotation is used only if the translator
 * leaves it unchanged; otherwise the OCI ref name goes through the translator.
 */
static char *transfer_image_name(const struct archive_descriptor *d, const char *image,
                                 bool check_prefix)
{
    const char *name =
        archive_kv_get(d->annotations, d->n_annotations, ARCHIVE_ANNOTATION_IMAGE_NAME);
    if (name && *name) {
        _cleanup_free_ char *clean = translate_ref(image, check_prefix, name);
        return xstrdup(strcmp(clean, name) == 0 ? name : "");
    }
    name = archive_kv_get(d->annotations, d->n_annotations, ARCHIVE_ANNOTATION_REF_NAME);
    if (name && *name)
        return translate_ref(image, check_prefix, name);
    return xstrdup("");
}

/* client.Import's imageName: the containerd annotation as is, else the translated ref name. */
static char *client_image_name(const struct archive_descriptor *d,
                               const struct import_reference *ref)
{
    const char *name =
        archive_kv_get(d->annotations, d->n_annotations, ARCHIVE_ANNOTATION_IMAGE_NAME);
    if (name && *name)
        return xstrdup(name);
    name = archive_kv_get(d->annotations, d->n_annotations, ARCHIVE_ANNOTATION_REF_NAME);
    if (!name || !*name)
        return xstrdup("");
    if (!ref)
        return xstrdup(name);
    return translate_ref(ref->name, !ref->allow_overwrite, name);
}

static void add_image(const struct import_options *o, const char *name,
                      const struct archive_descriptor *target, struct archive_image **images,
                      size_t *n)
{
    *images = xrealloc(*images, (*n + 1) * sizeof(**images));
    struct archive_image *img = &(*images)[(*n)++];
    memset(img, 0, sizeof(*img));
    img->name = xstrdup(name);
    archive_descriptor_copy(&img->target, target);
    for (size_t i = 0; i < o->n_labels; i++)
        img->n_labels =
            archive_kv_set(&img->labels, img->n_labels, o->labels[i].key, o->labels[i].value);
    img->replace_labels = o->naming == IMPORT_NAMING_TRANSFER || o->n_labels > 0;
}

static void add_digest_image(const struct import_options *o, const char *prefix,
                             const struct archive_descriptor *target, struct archive_image **images,
                             size_t *n)
{
    _cleanup_free_ char *name = xasprintf("%s@%s", prefix, target->digest);
    add_image(o, name, target, images, n);
}

void import_names_for_index(const struct import_options *o, const struct archive_descriptor *index,
                            struct archive_image **images, size_t *n)
{
    if (o->index_name && *o->index_name)
        add_image(o, o->index_name, index, images, n);
    if (o->naming != IMPORT_NAMING_TRANSFER)
        return;
    /* Without the import ref-source annotation, only complete references name it. */
    for (size_t i = 0; i < o->n_references; i++) {
        const struct import_reference *ref = &o->references[i];
        if (ref->is_prefix)
            continue;
        if (ref->add_digest)
            add_digest_image(o, ref->name, index, images, n);
        else
            add_image(o, ref->name, index, images, n);
    }
}

void import_names_for_manifest(const struct import_options *o, const struct archive_descriptor *m,
                               struct archive_image **images, size_t *n)
{
    if (o->naming == IMPORT_NAMING_CLIENT) {
        const struct import_reference *ref = o->n_references ? &o->references[0] : NULL;
        _cleanup_free_ char *name = client_image_name(m, ref);
        if (*name)
            add_image(o, name, m, images, n);
        if (ref && ref->skip_named_digest && *name)
            return;
        if (ref && ref->add_digest && ref->name && *ref->name)
            add_digest_image(o, ref->name, m, images, n);
        return;
    }
    for (size_t i = 0; i < o->n_references; i++) {
        const struct import_reference *ref = &o->references[i];
        if (!ref->is_prefix)
            continue;
        _cleanup_free_ char *name = transfer_image_name(m, ref->name, !ref->allow_overwrite);
        if (!*name) {
            if (ref->add_digest)
                add_digest_image(o, ref->name, m, images, n);
            continue;
        }
        add_image(o, name, m, images, n);
        if (ref->add_digest && !ref->skip_named_digest)
            add_digest_image(o, ref->name, m, images, n);
    }
}
