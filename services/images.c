/* containerd.services.images.v1.Images over core/metadata's image records. */
#include "services/services.h"
#include "core/deprecation/deprecation.h"
#include "core/events/events.h"
#include "core/metadata/images.h"
#include "core/metadata/gc_scheduler.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "services/convert.h"

#include "containerd/events/image.pb-c.h"
#include "containerd/services/images/v1/images.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <stdint.h>
#include <string.h>

#define IMG(x) containerd__services__images__v1__##x

typedef Containerd__Services__Images__V1__Image PbImage;

/* containerd's label on images converted from Docker schema 1 (a deprecated pull). */
#define LABEL_CONVERTED_SCHEMA1 "io.containerd.image/converted-docker-schema1"
#define NS_PER_SECOND           1000000000LL

struct images_service {
    struct rpc_service svc;
    struct metadata_db *db;
    struct event_exchange *events;
    struct gc_scheduler *gc;
};

static PbImage *image_to_pb(struct pb_arena *a, const struct image *im)
{
    PbImage *m = pb_arena_message(a, &IMG(image__descriptor));
    m->name = im->name;
    m->labels = (Containerd__Services__Images__V1__Image__LabelsEntry **)pb_arena_labels(
        a, &im->labels, &IMG(image__labels_entry__descriptor), &m->n_labels);
    Containerd__Types__Descriptor *d =
        pb_arena_message(a, &containerd__types__descriptor__descriptor);
    d->media_type = im->target.media_type;
    d->digest = im->target.digest;
    d->size = im->target.size;
    d->annotations = (Containerd__Types__Descriptor__AnnotationsEntry **)pb_arena_labels(
        a, &im->target.annotations, &containerd__types__descriptor__annotations_entry__descriptor,
        &d->n_annotations);
    m->target = d;
    m->created_at = pb_arena_timestamp(a, im->created_at);
    m->updated_at = pb_arena_timestamp(a, im->updated_at);
    return m;
}

/* The request's image with borrowed strings; only its label maps are owned (image_done). */
static void image_from_pb(const PbImage *m, struct image *im)
{
    *im = (struct image){.name = m->name};
    pb_labels_to_core((void *const *)m->labels, m->n_labels, &im->labels);
    if (m->target) {
        im->target.media_type = m->target->media_type;
        im->target.digest = m->target->digest;
        im->target.size = m->target->size;
        pb_labels_to_core((void *const *)m->target->annotations, m->target->n_annotations,
                          &im->target.annotations);
    }
}

static void image_done(struct image *im)
{
    labels_clear(&im->labels);
    labels_clear(&im->target.annotations);
}

/* The lease header and source_date_epoch of a write. */
static int write_options(struct rpc_call *call, const Google__Protobuf__Timestamp *epoch,
                         struct image_write_options *ret, struct berth_error **err)
{
    *ret = (struct image_write_options){.lease_id = rpc_call_metadata(call, "containerd-lease")};
    if (epoch) {
        /* int64 nanoseconds reach the year 2262; Go's time goes further but no image does */
        if (epoch->seconds > INT64_MAX / NS_PER_SECOND - 2 ||
            epoch->seconds < INT64_MIN / NS_PER_SECOND + 2)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "source_date_epoch out of range");
        ret->has_epoch = true;
        ret->epoch_ns = epoch->seconds * NS_PER_SECOND + epoch->nanos;
    }
    return 0;
}

static void warn_schema1(const struct image *requested)
{
    if (labels_get(&requested->labels, LABEL_CONVERTED_SCHEMA1))
        deprecation_warn(DEPRECATION_PULL_SCHEMA_1_IMAGE);
}

static int get(struct rpc_call *call, const ProtobufCMessage *request, void *data,
               struct berth_error **err)
{
    struct images_service *s = data;
    const Containerd__Services__Images__V1__GetImageRequest *req =
        (const Containerd__Services__Images__V1__GetImageRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct image im;
    if (images_get(s->db, ns, req->name, &im, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Images__V1__GetImageResponse resp =
        CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_RESPONSE__INIT;
    resp.image = image_to_pb(&a, &im);
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    image_clear(&im);
    return r;
}

static int list(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    struct images_service *s = data;
    const Containerd__Services__Images__V1__ListImagesRequest *req =
        (const Containerd__Services__Images__V1__ListImagesRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct image *all;
    size_t n;
    if (images_list(s->db, ns, (const char *const *)req->filters, req->n_filters, &all, &n, err) <
        0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Images__V1__ListImagesResponse resp =
        CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_RESPONSE__INIT;
    resp.images = pb_arena_alloc(&a, n * sizeof(*resp.images));
    for (size_t i = 0; i < n; i++)
        resp.images[resp.n_images++] = image_to_pb(&a, &all[i]);
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    images_list_free(all, n);
    return r;
}

static int create(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct images_service *s = data;
    const Containerd__Services__Images__V1__CreateImageRequest *req =
        (const Containerd__Services__Images__V1__CreateImageRequest *)request;
    if (!req->image || !req->image->name[0])
        return err_make_raw(err, ERR_INVALID_ARGUMENT, "Image.Name required");
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct image_write_options options;
    if (write_options(call, req->source_date_epoch, &options, err) < 0)
        return -1;
    struct image in, created;
    image_from_pb(req->image, &in);
    int r = images_create(s->db, ns, &in, &options, &created, err);
    if (r == 0)
        warn_schema1(&in);
    image_done(&in);
    if (r < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Images__V1__ImageCreate ev =
        CONTAINERD__SERVICES__IMAGES__V1__IMAGE_CREATE__INIT;
    ev.name = created.name;
    ev.labels = (Containerd__Services__Images__V1__ImageCreate__LabelsEntry **)pb_arena_labels(
        &a, &created.labels, &IMG(image_create__labels_entry__descriptor), &ev.n_labels);
    services_publish(s->events, ns, "/images/create", &ev.base);
    Containerd__Services__Images__V1__CreateImageResponse resp =
        CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_RESPONSE__INIT;
    resp.image = image_to_pb(&a, &created);
    r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    image_clear(&created);
    return r;
}

static int update(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct images_service *s = data;
    const Containerd__Services__Images__V1__UpdateImageRequest *req =
        (const Containerd__Services__Images__V1__UpdateImageRequest *)request;
    if (!req->image || !req->image->name[0])
        return err_make_raw(err, ERR_INVALID_ARGUMENT, "Image.Name required");
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct image_write_options options;
    if (write_options(call, req->source_date_epoch, &options, err) < 0)
        return -1;
    size_t n_paths = req->update_mask ? req->update_mask->n_paths : 0;
    struct image in, updated;
    image_from_pb(req->image, &in);
    int r =
        images_update(s->db, ns, &in, n_paths ? (const char *const *)req->update_mask->paths : NULL,
                      n_paths, &options, &updated, err);
    if (r == 0)
        warn_schema1(&in);
    image_done(&in);
    if (r < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Images__V1__ImageUpdate ev =
        CONTAINERD__SERVICES__IMAGES__V1__IMAGE_UPDATE__INIT;
    ev.name = updated.name;
    ev.labels = (Containerd__Services__Images__V1__ImageUpdate__LabelsEntry **)pb_arena_labels(
        &a, &updated.labels, &IMG(image_update__labels_entry__descriptor), &ev.n_labels);
    services_publish(s->events, ns, "/images/update", &ev.base);
    Containerd__Services__Images__V1__UpdateImageResponse resp =
        CONTAINERD__SERVICES__IMAGES__V1__UPDATE_IMAGE_RESPONSE__INIT;
    resp.image = image_to_pb(&a, &updated);
    r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    image_clear(&updated);
    return r;
}

static int delete (struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    struct images_service *s = data;
    const Containerd__Services__Images__V1__DeleteImageRequest *req =
        (const Containerd__Services__Images__V1__DeleteImageRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct image_write_options options;
    if (write_options(call, NULL, &options, err) < 0)
        return -1;
    if (images_delete(s->db, ns, req->name, req->target ? req->target->digest : NULL, &options,
                      err) < 0)
        return -1;
    Containerd__Services__Images__V1__ImageDelete ev =
        CONTAINERD__SERVICES__IMAGES__V1__IMAGE_DELETE__INIT;
    ev.name = req->name;
    services_publish(s->events, ns, "/images/delete", &ev.base);
    /* sync: what the image held is gone from disk before we answer, as containerd's */
    if (req->sync) {
        if (gc_scheduler_run_sync(s->gc, err) < 0)
            return err_wrap(err, "failed to garbage collect");
    } else {
        gc_scheduler_deleted(s->gc);
    }
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static const struct rpc_method methods[] = {
    {"Get", RPC_UNARY, &IMG(get_image_request__descriptor), &IMG(get_image_response__descriptor),
     get},
    {"List", RPC_UNARY, &IMG(list_images_request__descriptor),
     &IMG(list_images_response__descriptor), list},
    {"Create", RPC_UNARY, &IMG(create_image_request__descriptor),
     &IMG(create_image_response__descriptor), create},
    {"Update", RPC_UNARY, &IMG(update_image_request__descriptor),
     &IMG(update_image_response__descriptor), update},
    {"Delete", RPC_UNARY, &IMG(delete_image_request__descriptor),
     &google__protobuf__empty__descriptor, delete},
};

static int images_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct images_service *s = xcalloc(1, sizeof(*s));
    s->db = plugin_context_get_by_type(ctx, PLUGIN_METADATA);
    s->events = plugin_context_get_by_type(ctx, PLUGIN_EVENT);
    s->gc = plugin_context_get_by_type(ctx, PLUGIN_GC);
    if (!s->db || !s->events) {
        free(s);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no metadata database or event exchange");
    }
    s->svc = (struct rpc_service){
        .name = "containerd.services.images.v1.Images",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = s,
    };
    rpc_registry_add(host->grpc, &s->svc);
    *ret = s;
    return 0;
}

static const char *const requires[] = {PLUGIN_METADATA, PLUGIN_EVENT, PLUGIN_GC, NULL};

const struct plugin_registration images_plugin = {
    .type = PLUGIN_GRPC,
    .id = "images",
    .requires = requires,
    .init = images_init,
    .close = free,
};
