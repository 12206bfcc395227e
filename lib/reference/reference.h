/* Docker image references as distribution/reference v0.6 parses, normalizes and prints them. */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>

/* distribution/reference's limit on the path part ("library/busybox"). */
#define REFERENCE_NAME_MAX_LENGTH 255
/* The tag grammar allows one word character and up to 127 more. */
#define REFERENCE_TAG_MAX_LENGTH 128

/*
 * A parsed reference: [domain "/"] path [":" tag] ["@" digest]. domain is "" when the text had
 * none (only possible from reference_parse: the normalizing parsers always set one); tag and
 * digest are NULL when absent. All strings are owned.
 */
struct reference {
    char *domain;
    char *path;
    char *tag;
    char *digest;
};

void reference_clear(struct reference *ref);
static inline void reference_clearp(struct reference *ref)
{
    reference_clear(ref);
}
#define _cleanup_reference_ __attribute__((cleanup(reference_clearp)))

/*
 * reference.Parse: the text as written, no defaults. Errors are ERR_INVALID_ARGUMENT with
 * distribution/reference's own words, e.g. "invalid reference format",
 * "repository name must be lowercase", "repository name must have at least one component",
 * "repository name must not be more than 255 characters", or go-digest's reason for a bad digest.
 */
int reference_parse(const char *s, struct reference *ret, struct berth_error **err);
/*
 * reference.ParseNormalizedNamed: adds docker.io and library/ as docker does
 * ("busybox" -> docker.io/library/busybox, "index.docker.io/x" -> docker.io/library/x).
 * Rejects a bare 64-hex id ("invalid repository name (<s>), cannot specify 64-byte hexadecimal
 * strings") and uppercase in the repository ("invalid reference format: repository name (<r>)
 * must be lowercase").
 */
int reference_parse_normalized_named(const char *s, struct reference *ret,
                                     struct berth_error **err);
/*
 * reference.ParseDockerRef: normalized, a name alone gets ":latest", and a reference with both a
 * tag and a digest keeps only the digest.
 */
int reference_parse_docker_ref(const char *s, struct reference *ret, struct berth_error **err);

/* TagNameOnly: adds the "latest" tag when there is neither tag nor digest. */
void reference_tag_name_only(struct reference *ref);

/* Name(): "domain/path" (or "path" without a domain). Returns a malloc'd string. */
char *reference_name(const struct reference *ref);
/* String(): name[:tag][@digest]. Returns a malloc'd string. */
char *reference_string(const struct reference *ref);
/* FamiliarName / FamiliarString: docker.io and a lone library/ dropped ("busybox:latest"). */
char *reference_familiar_name(const struct reference *ref);
char *reference_familiar_string(const struct reference *ref);

/*
 * One-step helpers used for image names:
 * reference_normalize: ParseDockerRef(s).String() ("busybox" -> docker.io/library/busybox:latest);
 * reference_familiarize: FamiliarString(TagNameOnly(ParseNormalizedNamed(s))).
 */
int reference_normalize(const char *s, char **ret, struct berth_error **err);
int reference_familiarize(const char *s, char **ret, struct berth_error **err);

/* ---- containerd's own reference spec (pkg/reference): a locator and an object ---- */

/*
 * containerd's reference.Spec: "docker.io/library/busybox:latest" has locator
 * "docker.io/library/busybox" and object "latest"; "x/y@sha256:..." has object "@sha256:...".
 * The text is read as the host and path of a URL, as Go's net/url would read it.
 */
struct reference_spec {
    char *locator;
    char *object;
};

void reference_spec_clear(struct reference_spec *spec);
/*
 * reference.Parse. Errors (ERR_INVALID_ARGUMENT): "invalid reference" (a "://" in the text),
 * "hostname required", and net/url's complaints about the host, port, escapes or control
 * characters.
 */
int reference_spec_parse(const char *s, struct reference_spec *ret, struct berth_error **err);
/* Spec.Hostname(), Spec.Digest() ("" without one) and Spec.String(); malloc'd strings. */
char *reference_spec_hostname(const struct reference_spec *spec);
char *reference_spec_digest(const struct reference_spec *spec);
char *reference_spec_string(const struct reference_spec *spec);
