/* berth images ls|tag|rm|label|import|export, as ctr's images commands. */
#include "cmd/berth/cli.h"
#include "cmd/berth/commands_archive.h"
#include "cmd/berth/commands_check.h"
#include "cmd/berth/output.h"
#include "cmd/berth/unpack.h"
#include "lib/base/alloc.h"

#include "containerd/services/images/v1/images.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAGES "containerd.services.images.v1.Images"

typedef Containerd__Services__Images__V1__Image PbImage;
typedef Containerd__Services__Images__V1__Image__LabelsEntry LabelEntry;

static int compare_entries(const void *a, const void *b)
{
    const LabelEntry *x = *(void *const *)a, *y = *(void *const *)b;
    return strcmp(x->key, y->key);
}

/* "k=v,k2=v2" sorted by key, as ctr sorts its "k=v" pairs; `none` when there are no labels. */
static char *labels_column(PbImage *im, const char *none)
{
    if (im->n_labels > 1) /* qsort takes no NULL array, even empty */
        qsort(im->labels, im->n_labels, sizeof(*im->labels), compare_entries);
    struct strbuf b = {0};
    for (size_t i = 0; i < im->n_labels; i++)
        strbuf_printf(&b, "%s%s=%s", i ? "," : "", im->labels[i]->key, im->labels[i]->value);
    return b.data ? b.data : xstrdup(none);
}

/* ctr's progress.Bytes: go-units' CustomSize("%02.1f %s", size, 1024, B..YiB). */
static void human_size(int64_t bytes, char out[32])
{
    static const char *const units[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                        "PiB", "EiB", "ZiB", "YiB"};
    double size = (double)bytes;
    size_t i = 0;
    while (size >= 1024 && i < ARRAY_SIZE(units) - 1) {
        size /= 1024;
        i++;
    }
    snprintf(out, 32, "%02.1f %s", size, units[i]);
}

/* Go's flag package stops at the first argument that is not a flag, and takes -long too. */
static int next_flag(int argc, char **argv, const char *shorts, const struct option *longopts)
{
    return getopt_long_only(argc, argv, shorts, longopts, NULL);
}

static int cmd_list(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"quiet", no_argument, NULL, 'q'}, {0}};
    bool quiet = false;
    int c;
    while ((c = next_flag(argc, argv, "+q", longopts)) != -1) {
        if (c != 'q')
            return 1;
        quiet = true;
    }
    Containerd__Services__Images__V1__ListImagesRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_REQUEST__INIT;
    req.filters = argv + optind;
    req.n_filters = (size_t)(argc - optind);
    Containerd__Services__Images__V1__ListImagesResponse *resp =
        (Containerd__Services__Images__V1__ListImagesResponse *)cli_unary(
            cli, IMAGES, "List", &req.base,
            &containerd__services__images__v1__list_images_response__descriptor);
    if (quiet) {
        for (size_t i = 0; i < resp->n_images; i++)
            printf("%s\n", resp->images[i]->name);
    } else {
        struct table *t = table_new(1, 1);
        table_add(t, "REF\tTYPE\tDIGEST\tSIZE\tPLATFORMS\tLABELS\t");
        for (size_t i = 0; i < resp->n_images; i++) {
            PbImage *im = resp->images[i];
            _cleanup_free_ char *labels = labels_column(im, "-");
            /*
             * ctr walks the manifests in the content store for the size and platforms; with
             * them missing it has counted only the target and found no platforms, which is
             * what this command prints until it reads content too.
             */
            char size[32];
            human_size(im->target ? im->target->size : 0, size);
            table_add(t, "%s\t%s\t%s\t%s\t%s\t%s\t", im->name,
                      im->target ? im->target->media_type : "",
                      im->target ? im->target->digest : "", size, "-", labels);
        }
        table_print(t);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static ProtobufCMessage *create_image(struct cli *cli, PbImage *image, struct berth_error **err)
{
    Containerd__Services__Images__V1__CreateImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
    req.image = image;
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), IMAGES, "Create", &req.base,
                          &containerd__services__images__v1__create_image_response__descriptor,
                          &resp, &opts, err) < 0)
        return NULL;
    return resp;
}

static int delete_image(struct cli *cli, const char *name, bool sync, struct berth_error **err)
{
    Containerd__Services__Images__V1__DeleteImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__DELETE_IMAGE_REQUEST__INIT;
    req.name = (char *)name;
    req.sync = sync;
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), IMAGES, "Delete", &req.base,
                          &google__protobuf__empty__descriptor, &resp, &opts, err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int cmd_tag(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"force", no_argument, NULL, 'f'}, {0}};
    bool force = false;
    int c;
    while ((c = next_flag(argc, argv, "+", longopts)) != -1) {
        if (c != 'f')
            return 1;
        force = true;
    }
    argc -= optind, argv += optind;
    if (argc < 1 || !argv[0][0])
        cli_fail("please provide an image reference to tag from");
    if (argc < 2)
        cli_fail("please provide an image reference to tag to");
    Containerd__Services__Images__V1__GetImageRequest get =
        CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_REQUEST__INIT;
    get.name = argv[0];
    Containerd__Services__Images__V1__GetImageResponse *source =
        (Containerd__Services__Images__V1__GetImageResponse *)cli_unary(
            cli, IMAGES, "Get", &get.base,
            &containerd__services__images__v1__get_image_response__descriptor);
    if (!source->image)
        cli_fail("image \"%s\": not found", argv[0]);
    char *source_name = source->image->name;
    for (int i = 1; i < argc; i++) {
        source->image->name = argv[i];
        struct berth_error *err = NULL;
        ProtobufCMessage *created = create_image(cli, source->image, &err);
        /* --force replaces an existing target: delete it, then create again */
        if (!created && err->kind == ERR_ALREADY_EXISTS && force) {
            err_free(err);
            err = NULL;
            if (delete_image(cli, argv[i], false, &err) == 0)
                created = create_image(cli, source->image, &err);
        }
        if (!created)
            cli_fail("%s", err->message);
        protobuf_c_message_free_unpacked(created, NULL);
        printf("%s\n", argv[i]);
        fflush(stdout); /* keeps its place before a later error */
    }
    source->image->name = source_name;
    protobuf_c_message_free_unpacked(&source->base, NULL);
    return 0;
}

/* Unlike ctr, an image that is not there is an error (as berth namespaces rm): scripts can tell. */
static int cmd_remove(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"sync", no_argument, NULL, 's'}, {0}};
    bool sync = false;
    int c;
    while ((c = next_flag(argc, argv, "+", longopts)) != -1) {
        if (c != 's')
            return 1;
        sync = true;
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        struct berth_error *err = NULL;
        /* as ctr, only the last delete waits for the collection */
        if (delete_image(cli, argv[i], sync && i == argc - 1, &err) < 0) {
            fprintf(stderr, "berth: unable to delete %s: %s\n", argv[i], err->message);
            err_free(err);
            rc = 1;
            continue;
        }
        printf("%s\n", argv[i]);
        fflush(stdout); /* keeps its place before a later error */
    }
    return rc;
}

static int cmd_label(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"replace-all", no_argument, NULL, 'r'}, {0}};
    bool replace_all = false;
    int c;
    while ((c = next_flag(argc, argv, "+r", longopts)) != -1) {
        if (c != 'r')
            return 1;
        replace_all = true;
    }
    argc -= optind, argv += optind;
    if (argc < 1 || !argv[0][0])
        cli_fail("please specify an image");
    PbImage image = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
    image.name = argv[0];
    size_t n = (size_t)argc - 1;
    LabelEntry *entries = xcalloc(n + 1, sizeof(*entries));
    image.labels = xcalloc(n + 1, sizeof(*image.labels));
    char **paths = xcalloc(n + 1, sizeof(*paths));
    for (size_t i = 0; i < n; i++) {
        /* ctr's LabelArgs: "k=v", or "k" alone for "true"; a later key wins */
        LabelEntry *e = &entries[i];
        containerd__services__images__v1__image__labels_entry__init(e);
        char *eq = strchr(argv[i + 1], '=');
        if (eq)
            *eq = '\0';
        e->key = argv[i + 1];
        e->value = eq ? eq + 1 : (char *)"true";
        image.labels[image.n_labels++] = e;
        paths[i] = replace_all ? xstrdup("labels") : xasprintf("labels.%s", e->key);
    }
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = paths;
    mask.n_paths = n;
    Containerd__Services__Images__V1__UpdateImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__UPDATE_IMAGE_REQUEST__INIT;
    req.image = &image;
    req.update_mask = n ? &mask : NULL;
    Containerd__Services__Images__V1__UpdateImageResponse *resp =
        (Containerd__Services__Images__V1__UpdateImageResponse *)cli_unary(
            cli, IMAGES, "Update", &req.base,
            &containerd__services__images__v1__update_image_response__descriptor);
    _cleanup_free_ char *labels = resp->image ? labels_column(resp->image, "") : xstrdup("");
    printf("%s\n", labels);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(image.labels);
    free(entries);
    return 0;
}

int cli_images(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command sub[] = {
        {"list", "ls", "list images known to the daemon", cmd_list},
        {"tag", NULL, "tag an image", cmd_tag},
        {"delete", "rm", "remove one or more images by reference", cmd_remove},
        {"label", NULL, "set and clear labels for an image", cmd_label},
        {"import", NULL, "import images", cli_images_import},
        {"export", NULL, "export images", cli_images_export},
        {"check", NULL, "check existing images to ensure all content is available locally",
         cli_images_check},
        {"mount", NULL, "mount an image to a target path", cli_images_mount},
        {"unmount", NULL, "unmount the image from the target", cli_images_unmount},
    };
    return cli_dispatch(cli, "images", sub, ARRAY_SIZE(sub), argc, argv);
}
