/* berth images import|export: image archives through core/archive over the daemon's API. */
#include "cmd/berth/archive_remote.h"
#include "cmd/berth/cli.h"
#include "cmd/berth/commands_archive.h"
#include "cmd/berth/unpack.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* client.WithLease's default expiry: the collector takes what a killed import left. */
#define IMPORT_LEASE_SECONDS (24L * 3600)
/* Bounds on repeated flags (user-controlled input). */
#define MAX_FLAG_VALUES 256

/* Go's strconv.ParseBool, for "--flag=value" on boolean flags (urfave/cli accepts it). */
static bool parse_bool_flag(const char *name, const char *value)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    if (!value)
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcmp(value, yes[i]) == 0)
            return true;
        if (strcmp(value, no[i]) == 0)
            return false;
    }
    cli_fail("invalid boolean value \"%s\" for -%s: parse error", value, name);
}

static void add_value(const char ***list, size_t *n, const char *value, const char *flag)
{
    if (*n >= MAX_FLAG_VALUES)
        cli_fail("too many --%s flags (at most %d)", flag, MAX_FLAG_VALUES);
    *list = xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = value;
}

static struct archive_platform *parse_platforms(const char *const *specs, size_t n,
                                                bool quote_in_error)
{
    struct archive_platform *platforms = xcalloc(n + 1, sizeof(*platforms));
    for (size_t i = 0; i < n; i++) {
        struct berth_error *err = NULL;
        if (archive_platform_parse(specs[i], &platforms[i], &err) < 0) {
            if (quote_in_error)
                cli_fail("invalid platform \"%s\": %s", specs[i], err->message);
            cli_fail("%s", err->message);
        }
    }
    return platforms;
}

static void platforms_free(struct archive_platform *platforms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        archive_platform_clear(&platforms[i]);
    free(platforms);
}

/* ---- import ---- */

/* ctr's displayName: each dash-separated part, a sha256 digest shortened to "(<12 hex>)". */
static char *display_name(const char *name)
{
    size_t cap = strlen(name) + 1;
    char *out = xmalloc(cap), *o = out;
    const char *p = name;
    for (;;) {
        const char *dash = strchr(p, '-');
        size_t n = dash ? (size_t)(dash - p) : strlen(p);
        if (n == 71 && strncmp(p, "sha256:", 7) == 0)
            o += snprintf(o, cap - (size_t)(o - out), "(%.12s)", p + 7);
        else
            o += snprintf(o, cap - (size_t)(o - out), "%.*s", (int)n, p);
        if (!dash)
            break;
        *o++ = ' ';
        p = dash + 1;
    }
    *o = '\0';
    return out;
}

/* Go's "%-40.40s": at most 40 runes (UTF-8 characters), padded with spaces to 40. */
static void print_column40(const char *s)
{
    size_t bytes = 0, runes = 0;
    while (s[bytes] && runes < 40) {
        bytes++;
        while ((s[bytes] & 0xc0) == 0x80)
            bytes++;
        runes++;
    }
    printf("%.*s%*s", (int)bytes, s, (int)(40 - runes), "");
}

/*
 * What ctr 2.0 leaves on the screen after an import through the transfer service: its progress
 * tree redrawn for the last "saved" event (one root per image name, then each root's media type
 * and digest) and the status line, still "Importing" (the final event only changes the status).
 * ctr redraws on every event; Berth has the result at once and draws the last frame only.
 */
static void print_transfer_progress(const struct import_result *result, double elapsed)
{
    size_t n = result->n_images;
    const struct archive_image **roots = xcalloc(n + 1, sizeof(*roots));
    size_t n_roots = 0;
    for (size_t i = 0; i < n; i++) {
        const struct archive_image *img = &result->images[i];
        size_t j = 0;
        while (j < n_roots && strcmp(roots[j]->name, img->name) != 0)
            j++;
        roots[j] = img; /* a name saved again keeps its place, with the later target */
        if (j == n_roots)
            n_roots++;
    }
    for (size_t i = 0; i < n_roots; i++) {
        _cleanup_free_ char *name = display_name(roots[i]->name);
        print_column40(name);
        printf("\tsaved\t\n");
    }
    for (size_t i = 0; i < n_roots; i++)
        printf("%s %s\n", roots[i]->target.media_type, roots[i]->target.digest);
    /* no event carries byte counts: progress.Bytes(0) with "%7.6v", and its rate */
    printf("Importing\telapsed: %-4.1fs\ttotal: %7.6s\t(%s)\t\n", elapsed, "0.0 B", "0.0 B/s");
    free(roots);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void import_usage(void)
{
    printf("NAME:\n   berth images import - Import images\n\n"
           "USAGE:\n   berth images import [command options] [flags] <in>\n\n"
           "OPTIONS:\n"
           "   --base-name value         Base image name for added images, when provided only "
           "images with this name prefix are imported\n"
           "   --digests                 Whether to create digest images (default: false)\n"
           "   --skip-digest-for-named   Skip applying --digests option to images named in the "
           "importing tar (use it in conjunction with --digests)\n"
           "   --index-name value        Image name to keep index as, by default index is "
           "discarded\n"
           "   --all-platforms           Imports content for all platforms, false by default\n"
           "   --platform value          Imports content for specific platform\n"
           "   --no-unpack               Skip unpacking the images, cannot be used with "
           "--discard-unpacked-layers, false by default\n"
           "   --local                   Run import locally rather than through transfer API\n"
           "   --compress-blobs          Compress uncompressed blobs when creating manifest "
           "(Docker format only)\n"
           "   --discard-unpacked-layers Allow the garbage collector to clean layers up from "
           "the content store after unpacking\n"
           "   --snapshotter value       Snapshotter name [$CONTAINERD_SNAPSHOTTER]\n"
           "   --label value             Labels to attach to the image\n");
}

struct import_flags {
    const char *base_name, *index_name, *snapshotter;
    bool digests, skip_digest_for_named, all_platforms, no_unpack, local, compress_blobs;
    bool discard_unpacked_layers;
    const char **platforms;
    size_t n_platforms;
    const char **labels;
    size_t n_labels;
};

static int parse_import_flags(int argc, char **argv, struct import_flags *f)
{
    enum {
        OPT_BASE_NAME = 1000,
        OPT_DIGESTS,
        OPT_SKIP_DIGEST_FOR_NAMED,
        OPT_INDEX_NAME,
        OPT_ALL_PLATFORMS,
        OPT_PLATFORM,
        OPT_NO_UNPACK,
        OPT_LOCAL,
        OPT_COMPRESS_BLOBS,
        OPT_DISCARD,
        OPT_SNAPSHOTTER,
        OPT_LABEL,
        OPT_HELP,
    };
    static const struct option longopts[] = {
        {"base-name", required_argument, NULL, OPT_BASE_NAME},
        {"digests", optional_argument, NULL, OPT_DIGESTS},
        {"skip-digest-for-named", optional_argument, NULL, OPT_SKIP_DIGEST_FOR_NAMED},
        {"index-name", required_argument, NULL, OPT_INDEX_NAME},
        {"all-platforms", optional_argument, NULL, OPT_ALL_PLATFORMS},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"no-unpack", optional_argument, NULL, OPT_NO_UNPACK},
        {"local", optional_argument, NULL, OPT_LOCAL},
        {"compress-blobs", optional_argument, NULL, OPT_COMPRESS_BLOBS},
        {"discard-unpacked-layers", optional_argument, NULL, OPT_DISCARD},
        {"snapshotter", required_argument, NULL, OPT_SNAPSHOTTER},
        {"label", required_argument, NULL, OPT_LABEL},
        {"help", no_argument, NULL, OPT_HELP},
        {0},
    };
    int c, index = 0;
    while ((c = getopt_long_only(argc, argv, "+h", longopts, &index)) != -1) {
        const char *name = c >= OPT_BASE_NAME && c < OPT_HELP ? longopts[index].name : "";
        switch (c) {
        case OPT_BASE_NAME:
            f->base_name = optarg;
            break;
        case OPT_DIGESTS:
            f->digests = parse_bool_flag(name, optarg);
            break;
        case OPT_SKIP_DIGEST_FOR_NAMED:
            f->skip_digest_for_named = parse_bool_flag(name, optarg);
            break;
        case OPT_INDEX_NAME:
            f->index_name = optarg;
            break;
        case OPT_ALL_PLATFORMS:
            f->all_platforms = parse_bool_flag(name, optarg);
            break;
        case OPT_PLATFORM:
            add_value(&f->platforms, &f->n_platforms, optarg, "platform");
            break;
        case OPT_NO_UNPACK:
            f->no_unpack = parse_bool_flag(name, optarg);
            break;
        case OPT_LOCAL:
            f->local = parse_bool_flag(name, optarg);
            break;
        case OPT_COMPRESS_BLOBS:
            f->compress_blobs = parse_bool_flag(name, optarg);
            break;
        case OPT_DISCARD:
            f->discard_unpacked_layers = parse_bool_flag(name, optarg);
            break;
        case OPT_SNAPSHOTTER:
            f->snapshotter = optarg;
            break;
        case OPT_LABEL:
            add_value(&f->labels, &f->n_labels, optarg, "label");
            break;
        case 'h':
        case OPT_HELP:
            import_usage();
            exit(0);
        default:
            return -1;
        }
    }
    return 0;
}

/* commands.LabelArgs: "k=v", or "k" alone for "true"; a later key wins. */
static struct archive_kv *label_args(const char *const *args, size_t n, size_t *ret_n)
{
    struct archive_kv *kv = NULL;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(args[i], '=');
        _cleanup_free_ char *key =
            eq ? xstrndup(args[i], (size_t)(eq - args[i])) : xstrdup(args[i]);
        count = archive_kv_set(&kv, count, key, eq ? eq + 1 : "true");
    }
    *ret_n = count;
    return kv;
}

/*
 * Unpacks each imported image under the import's lease: the given platforms in order, else this
 * host (platforms.DefaultStrict). An image without a matching manifest is only fetched, as the
 * unpacker leaves it. --local prints client.Import's "unpacking" lines as ctr does.
 */
static int unpack_imported(struct cli *cli, const struct import_flags *f,
                           const struct archive_platform *platforms, size_t n_platforms,
                           const char *lease, const struct import_result *result,
                           struct berth_error **err)
{
    const char *snapshotter = unpack_snapshotter_name(f->snapshotter);
    struct archive_platform host = {0};
    struct platform_matcher matcher = {0};
    if (n_platforms > 0) {
        platform_matcher_ordered(&matcher, platforms, n_platforms);
    } else {
        archive_platform_default(&host);
        platform_matcher_only_strict(&matcher, &host);
    }
    int rc = 0;
    for (size_t i = 0; i < result->n_images && rc == 0; i++) {
        const struct archive_image *img = &result->images[i];
        if (f->local) {
            printf("unpacking %s (%s)...", img->name, img->target.digest);
            fflush(stdout);
        }
        struct berth_error *local = NULL;
        rc = unpack_image(cli, snapshotter, lease, &img->target, &matcher, NULL, &local);
        if (rc < 0 && local->kind == ERR_NOT_FOUND && !f->local &&
            strncmp(local->message, "no match for platform", 21) == 0) {
            err_free(local); /* the transfer service's unpacker only fetches such images */
            rc = 0;
            continue;
        }
        if (rc < 0)
            *err = local;
        else if (f->local)
            printf("done\n");
    }
    platform_matcher_clear(&matcher);
    archive_platform_clear(&host);
    return rc;
}

int cli_images_import(struct cli *cli, int argc, char **argv)
{
    struct import_flags f = {0};
    if (parse_import_flags(argc, argv, &f) < 0)
        return 1;
    const char *in = optind < argc ? argv[optind] : NULL;

    /* ctr's own checks first, in its order */
    if (!f.local && f.discard_unpacked_layers)
        cli_fail("\"--discard-unpacked-layers\" requires \"--local\" flag");
    if (f.local && f.skip_digest_for_named && !f.digests)
        cli_fail("--skip-digest-for-named must be specified with --digests option");
    if (f.local && f.discard_unpacked_layers && f.no_unpack)
        cli_fail("--discard-unpacked-layers and --no-unpack are incompatible options");
    if (!in || !*in)
        cli_fail("please provide an archive to import (a file, or - for standard input)");

    /*
     * The transfer service takes every --platform, in order of preference (ctr 2.0 keeps the
     * last one); client.Import (--local) matches the last one strictly, as ctr.
     */
    size_t n_platforms = f.n_platforms;
    const char *const *platform_specs = f.platforms;
    if (f.local && n_platforms > 1) {
        platform_specs += n_platforms - 1;
        n_platforms = 1;
    }
    struct archive_platform *platforms = parse_platforms(platform_specs, n_platforms, false);
    if (!f.local && !f.all_platforms && n_platforms == 0) {
        archive_platform_default(&platforms[0]); /* platforms.DefaultSpec() */
        n_platforms = 1;
    }

    int fd = STDIN_FILENO;
    if (strcmp(in, "-") != 0 && (fd = open(in, O_RDONLY | O_CLOEXEC)) < 0)
        cli_fail("open %s: %s", in, strerror(errno));

    _cleanup_free_ char *prefix = f.base_name && *f.base_name
                                      ? xstrdup(f.base_name)
                                      : archive_import_default_prefix(time(NULL));
    bool generated = !(f.base_name && *f.base_name);
    struct import_reference reference = {
        .name = prefix,
        .is_prefix = true,
        .allow_overwrite = generated, /* AddRefPrefix / a generated prefix may be overwritten */
        .add_digest = f.digests,
        /* ctr 2.0 passes !--skip-digest-for-named to the transfer service; kept as it is */
        .skip_named_digest =
            f.local ? f.skip_digest_for_named : f.digests && !f.skip_digest_for_named,
    };
    size_t n_labels = 0;
    struct archive_kv *labels = label_args(f.labels, f.n_labels, &n_labels);
    struct import_options options = {
        .naming = f.local ? IMPORT_NAMING_CLIENT : IMPORT_NAMING_TRANSFER,
        .index_name = f.index_name && *f.index_name ? f.index_name : NULL,
        .references = &reference,
        .n_references = 1,
        .labels = labels,
        .n_labels = n_labels,
        .platforms = platforms,
        .n_platforms = f.all_platforms ? 0 : n_platforms,
        .all_platforms = f.all_platforms,
        .compress = f.compress_blobs,
    };

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct berth_error *err = NULL;
    /* everything is written under a lease, deleted whatever happens (client.WithLease) */
    _cleanup_free_ char *lease = archive_remote_lease_create(cli, IMPORT_LEASE_SECONDS, &err);
    if (!lease)
        cli_fail("%s", err->message);
    struct archive_remote *remote = archive_remote_new(cli, lease, options.naming);
    struct import_sink sink = archive_remote_sink(remote);
    struct import_result result = {0};
    int rc = archive_import_fd(fd, &options, &sink, &result, &err);
    archive_remote_free(remote);
    if (rc == 0 && !f.no_unpack)
        rc = unpack_imported(cli, &f, platforms, n_platforms, lease, &result, &err);
    /*
     * After a failure, unlike ctr, wait for the collection: blobs committed before the failure
     * and held only by the lease are then gone when the command returns.
     */
    struct berth_error *lease_err = NULL;
    if (archive_remote_lease_delete(cli, lease, rc < 0, &lease_err) < 0) {
        fprintf(stderr, "berth: failed to delete lease %s: %s\n", lease, lease_err->message);
        err_free(lease_err);
    }
    if (fd != STDIN_FILENO)
        close(fd);
    archive_kv_free(labels, n_labels);
    platforms_free(platforms, n_platforms);
    free(f.platforms);
    free(f.labels);
    if (rc < 0)
        cli_fail("%s", err->message);
    if (!f.local)
        print_transfer_progress(&result, seconds_since(&start));
    import_result_clear(&result);
    return 0;
}

/* ---- export ---- */

static void export_usage(void)
{
    printf("NAME:\n   berth images export - Export images\n\n"
           "USAGE:\n   berth images export [command options] [flags] <out> <image> ...\n\n"
           "OPTIONS:\n"
           "   --skip-manifest-json      Do not add Docker compatible manifest.json to archive\n"
           "   --skip-non-distributable  Do not add non-distributable blobs such as Windows "
           "layers to archive\n"
           "   --platform value          Pull content from a specific platform (may be "
           "repeated)\n"
           "   --all-platforms           Exports content from all platforms\n"
           "   --local                   Run export locally rather than through transfer API\n");
}

int cli_images_export(struct cli *cli, int argc, char **argv)
{
    enum {
        OPT_SKIP_MANIFEST_JSON = 1000,
        OPT_SKIP_NON_DISTRIBUTABLE,
        OPT_PLATFORM,
        OPT_ALL_PLATFORMS,
        OPT_LOCAL,
        OPT_HELP,
    };
    static const struct option longopts[] = {
        {"skip-manifest-json", optional_argument, NULL, OPT_SKIP_MANIFEST_JSON},
        {"skip-non-distributable", optional_argument, NULL, OPT_SKIP_NON_DISTRIBUTABLE},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"all-platforms", optional_argument, NULL, OPT_ALL_PLATFORMS},
        {"local", optional_argument, NULL, OPT_LOCAL},
        {"help", no_argument, NULL, OPT_HELP},
        {0},
    };
    struct export_options options = {0};
    const char **specs = NULL;
    size_t n_specs = 0;
    int c, index = 0;
    while ((c = getopt_long_only(argc, argv, "+h", longopts, &index)) != -1) {
        const char *name = c >= OPT_SKIP_MANIFEST_JSON && c < OPT_HELP ? longopts[index].name : "";
        switch (c) {
        case OPT_SKIP_MANIFEST_JSON:
            options.skip_manifest_json = parse_bool_flag(name, optarg);
            break;
        case OPT_SKIP_NON_DISTRIBUTABLE:
            options.skip_non_distributable = parse_bool_flag(name, optarg);
            break;
        case OPT_PLATFORM:
            add_value(&specs, &n_specs, optarg, "platform");
            break;
        case OPT_ALL_PLATFORMS:
            options.all_platforms = parse_bool_flag(name, optarg);
            break;
        case OPT_LOCAL: /* berth always exports in the client, as ctr --local */
            parse_bool_flag(name, optarg);
            break;
        case 'h':
        case OPT_HELP:
            export_usage();
            return 0;
        default:
            return 1;
        }
    }
    const char *out = optind < argc ? argv[optind] : NULL;
    if (!out || !*out || optind + 1 >= argc)
        cli_fail("please provide both an output filename and an image reference to export");
    struct archive_platform *platforms = parse_platforms(specs, n_specs, true);
    options.names = (const char *const *)argv + optind + 1;
    options.n_names = (size_t)(argc - optind - 1);
    options.platforms = platforms;
    options.n_platforms = n_specs;

    int fd = STDOUT_FILENO;
    bool created = false;
    if (strcmp(out, "-") != 0) {
        struct stat st;
        created = stat(out, &st) < 0 || S_ISREG(st.st_mode);
        if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
            cli_fail("open %s: %s", out, strerror(errno));
    }
    struct archive_remote *remote = archive_remote_new(cli, NULL, IMPORT_NAMING_CLIENT);
    struct export_source source = archive_remote_source(remote);
    struct berth_error *err = NULL;
    int rc = archive_export_fd(fd, &options, &source, &err);
    archive_remote_free(remote);
    if (fd != STDOUT_FILENO && close(fd) < 0 && rc == 0)
        rc = err_make(&err, ERR_UNKNOWN, errno, "close %s", out);
    platforms_free(platforms, n_specs);
    free(specs);
    if (rc < 0) {
        /* unlike ctr, no half-written archive is left behind under the name asked for */
        if (created)
            unlink(out);
        cli_fail("%s", err->message);
    }
    return 0;
}
