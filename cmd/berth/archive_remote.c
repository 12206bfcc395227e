/* core/archive's import sink and export source over berthd's gRPC services, and import leases. */
#include "cmd/berth/archive_remote.h"
#include "lib/base/alloc.h"

#include "containerd/services/content/v1/content.pb-c.h"
#include "containerd/services/images/v1/images.pb-c.h"
#include "containerd/services/leases/v1/leases.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CONTENT  "containerd.services.content.v1.Content"
#define IMAGES   "containerd.services.images.v1.Images"
#define LEASES   "containerd.services.leases.v1.Leases"
#define C(x)     containerd__services__content__v1__##x
#define CINIT(x) CONTAINERD__SERVICES__CONTENT__V1__##x##__INIT
#define I(x)     containerd__services__images__v1__##x
#define IINIT(x) CONTAINERD__SERVICES__IMAGES__V1__##x##__INIT

typedef Containerd__Services__Content__V1__WriteContentRequest WriteRequest;
typedef Containerd__Services__Content__V1__WriteContentResponse WriteResponse;
typedef Containerd__Services__Content__V1__ReadContentResponse ReadResponse;
typedef Containerd__Services__Content__V1__InfoResponse InfoResponse;
typedef Containerd__Services__Images__V1__Image PbImage;

/* The most data one Write message carries (containerd's content.Copy buffer). */
#define WRITE_CHUNK (1 << 20)
/*
 * WRITE messages sent before the replies to earlier ones are read, as the protocol allows: the
 * daemon's hashing and disk writes then overlap the transfer (containerd's client waits for each).
 */
#define WRITES_IN_FLIGHT 8
/*
 * Content/Write answers "ref ... locked" (Unavailable) while another client writes the same ref;
 * content.OpenWriter then waits with a doubling random delay. Berth waits too, but not forever.
 */
#define LOCKED_WAIT_LIMIT_MS (5 * 60 * 1000)
/* Update after Create's AlreadyExists, Create again after Update's NotFound: a bounded race. */
#define STORE_ATTEMPTS 8

/* Every protobuf-c map entry type has this layout. */
struct pb_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};

/* One open Read stream, continued while reads are sequential (the archive reads 128 KiB). */
struct remote_reader {
    struct rpc_call *call;
    char *digest;
    int64_t offset; /* of the next byte the stream yields */
    ReadResponse *msg;
    size_t pos; /* unread data of msg starts here */
    bool eof;
};

struct archive_remote {
    struct cli *cli;
    struct rpc_metadata metadata;
    struct rpc_call_options options;
    enum import_naming naming;
    struct remote_reader reader;
};

struct remote_writer {
    struct rpc_call *call;
    char *ref;
    int64_t offset;                   /* bytes the daemon holds or has been sent */
    int64_t skip;                     /* input bytes to drop: the daemon has them already */
    int64_t expect[WRITES_IN_FLIGHT]; /* offsets the unread WRITE replies report, oldest first */
    size_t n_expect;
    uint8_t *buf;
    size_t len;
};

static struct berth_error *error_drop(struct berth_error *e)
{
    err_free(e);
    return NULL;
}

/* Hands a local error to the caller's out-param (which keeps an error it already has). */
static int give_error(struct berth_error **err, struct berth_error *local)
{
    if (err && !*err)
        *err = local;
    else
        err_free(local);
    return -1;
}

/* Map entries of message type `descriptor` pointing into kv; one free() releases them. */
static void **pb_entries(const ProtobufCMessageDescriptor *descriptor, const struct archive_kv *kv,
                         size_t n)
{
    assert(descriptor->sizeof_message == sizeof(struct pb_entry));
    void **ptrs = xcalloc(n + 1, sizeof(void *) + sizeof(struct pb_entry));
    struct pb_entry *entries = (struct pb_entry *)(ptrs + n + 1);
    for (size_t i = 0; i < n; i++) {
        protobuf_c_message_init(descriptor, &entries[i]);
        entries[i].key = kv[i].key;
        entries[i].value = kv[i].value;
        ptrs[i] = &entries[i];
    }
    return ptrs;
}

static size_t kv_from_entries(void *const *entries, size_t n, struct archive_kv **kv, size_t n_kv)
{
    for (size_t i = 0; i < n; i++) {
        const struct pb_entry *e = entries[i];
        n_kv = archive_kv_set(kv, n_kv, e->key, e->value);
    }
    return n_kv;
}

static ProtobufCMessage *unary(struct archive_remote *r, const char *service, const char *method,
                               const ProtobufCMessage *request,
                               const ProtobufCMessageDescriptor *response_descriptor,
                               struct berth_error **err)
{
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(r->cli), service, method, request, response_descriptor, &resp,
                          &r->options, err) < 0)
        return NULL;
    return resp;
}

/* The next message of a stream that must have one. */
static ProtobufCMessage *recv_one(struct rpc_call *call, const ProtobufCMessageDescriptor *d,
                                  struct berth_error **err)
{
    ProtobufCMessage *msg = NULL;
    int r = rpc_call_recv(call, d, &msg, err);
    if (r > 0)
        return msg;
    if (r == 0)
        err_make(err, ERR_UNKNOWN, 0, "%s: the stream ended without a reply", d->name);
    return NULL;
}

static WriteResponse *write_exchange(struct rpc_call *call, WriteRequest *req,
                                     struct berth_error **err)
{
    if (rpc_call_send(call, &req->base, err) < 0)
        return NULL;
    return (WriteResponse *)recv_one(call, &C(write_content_response__descriptor), err);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* ---- the import sink ---- */

/*
 * Ends the Write stream (waiting until the daemon lets go of the ref) and, for a write that did
 * not commit, drops the ingest so that a failed import leaves no partial data behind (the lease
 * would let the collector take it later anyway).
 */
static void writer_release(struct archive_remote *r, struct remote_writer *w, bool abort_ingest)
{
    struct berth_error *ignored = NULL;
    rpc_call_close_send(w->call);
    rpc_call_finish(w->call, &ignored);
    ignored = error_drop(ignored);
    if (abort_ingest) {
        Containerd__Services__Content__V1__AbortRequest req = CINIT(ABORT_REQUEST);
        req.ref = w->ref;
        ProtobufCMessage *resp =
            unary(r, CONTENT, "Abort", &req.base, &google__protobuf__empty__descriptor, &ignored);
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        err_free(ignored);
    }
    rpc_call_unref(w->call);
    free(w->ref);
    free(w->buf);
    free(w);
}

static int sink_blob_begin(void *arg, const char *ref, int64_t size, const char *expected,
                           void **ret_writer, struct berth_error **err)
{
    struct archive_remote *r = arg;
    WriteRequest req = CINIT(WRITE_CONTENT_REQUEST);
    req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT;
    req.ref = (char *)ref;
    req.total = size > 0 ? size : 0;
    req.expected = (char *)(expected ? expected : "");
    long delay_ms = 16, waited_ms = 0;
    int restarts = 0;
    for (;;) {
        struct berth_error *local = NULL;
        struct rpc_call *call =
            rpc_channel_start_call(cli_channel(r->cli), CONTENT, "Write", &r->options, &local);
        WriteResponse *resp = call ? write_exchange(call, &req, &local) : NULL;
        if (resp) {
            struct remote_writer *w = xcalloc(1, sizeof(*w));
            w->call = call;
            w->ref = xstrdup(ref);
            int64_t had = resp->offset;
            protobuf_c_message_free_unpacked(&resp->base, NULL);
            /*
             * A blob another namespace has (shared content) reads as a complete ingest: the
             * input is skipped and the commit links it, as content.Copy does.
             */
            if (had == 0 || (expected && had == size)) {
                w->offset = w->skip = had;
                w->buf = xmalloc(WRITE_CHUNK);
                *ret_writer = w;
                return 0;
            }
            /*
             * An ingest an earlier, interrupted write left under this ref. content.Copy resumes
             * it by skipping that much input, which fails at commit if it held other bytes;
             * start again instead (the archive streams every byte anyway).
             */
            writer_release(r, w, true);
            if (++restarts > 3)
                return err_make(err, ERR_ABORTED, 0, "write %s: a stale ingest keeps coming back",
                                ref);
            continue;
        }
        if (call)
            rpc_call_unref(call);
        if (local->kind == ERR_ALREADY_EXISTS) { /* stored already (now held by our lease too) */
            err_free(local);
            *ret_writer = NULL;
            return 0;
        }
        if (local->kind != ERR_UNAVAILABLE || !strstr(local->message, "locked") ||
            waited_ms >= LOCKED_WAIT_LIMIT_MS)
            return give_error(err, local);
        err_free(local);
        long ms = 1 + random() % delay_ms;
        sleep_ms(ms);
        waited_ms += ms;
        if (delay_ms < 2048)
            delay_ms *= 2;
    }
}

/* Reads the oldest unread WRITE reply and checks the offset it reports. */
static int writer_reap(struct remote_writer *w, struct berth_error **err)
{
    WriteResponse *resp =
        (WriteResponse *)recv_one(w->call, &C(write_content_response__descriptor), err);
    if (!resp)
        return -1;
    int64_t got = resp->offset, want = w->expect[0];
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    w->n_expect--;
    memmove(w->expect, w->expect + 1, w->n_expect * sizeof(*w->expect));
    if (got != want)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "write %s: at offset %lld, expected %lld",
                        w->ref, (long long)got, (long long)want);
    return 0;
}

/* Sends the buffered data as one WRITE; its reply is read later (writer_reap). */
static int writer_flush(struct remote_writer *w, struct berth_error **err)
{
    if (w->len == 0)
        return 0;
    if (w->n_expect == WRITES_IN_FLIGHT && writer_reap(w, err) < 0)
        return -1;
    WriteRequest req = CINIT(WRITE_CONTENT_REQUEST);
    req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE;
    req.offset = w->offset;
    req.data.data = w->buf;
    req.data.len = w->len;
    if (rpc_call_send(w->call, &req.base, err) < 0)
        return -1;
    w->offset += (int64_t)w->len;
    w->expect[w->n_expect++] = w->offset;
    w->len = 0;
    return 0;
}

static int sink_blob_write(void *arg, void *writer, const void *data, size_t len,
                           struct berth_error **err)
{
    struct remote_writer *w = writer;
    const uint8_t *p = data;
    if (w->skip > 0) {
        size_t n = (uint64_t)w->skip < len ? (size_t)w->skip : len;
        p += n;
        len -= n;
        w->skip -= (int64_t)n;
    }
    while (len > 0) {
        size_t n = WRITE_CHUNK - w->len < len ? WRITE_CHUNK - w->len : len;
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;
        if (w->len == WRITE_CHUNK && writer_flush(w, err) < 0)
            return -1;
    }
    return 0;
}

static int sink_blob_commit(void *arg, void *writer, int64_t size, const char *digest,
                            const struct archive_kv *labels, size_t n_labels,
                            struct berth_error **err)
{
    struct archive_remote *r = arg;
    struct remote_writer *w = writer;
    struct berth_error *local = NULL;
    int rc = 0;
    if (w->skip > 0)
        rc = err_make(&local, ERR_FAILED_PRECONDITION, 0,
                      "commit %s: the daemon holds %lld bytes more than were written", w->ref,
                      (long long)w->skip);
    if (rc == 0)
        rc = writer_flush(w, &local);
    while (rc == 0 && w->n_expect > 0)
        rc = writer_reap(w, &local);
    if (rc == 0) {
        WriteRequest req = CINIT(WRITE_CONTENT_REQUEST);
        req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT;
        req.total = size >= 0 ? size : w->offset;
        req.offset = w->offset;
        req.expected = (char *)digest;
        req.labels = (void *)pb_entries(&C(write_content_request__labels_entry__descriptor), labels,
                                        n_labels);
        req.n_labels = n_labels;
        WriteResponse *resp = write_exchange(w->call, &req, &local);
        free(req.labels);
        if (!resp)
            rc = -1;
        else if (size >= 0 && resp->offset != size)
            rc = err_make(&local, ERR_FAILED_PRECONDITION, 0,
                          "commit %s: unexpected size %lld, expected %lld", w->ref,
                          (long long)resp->offset, (long long)size);
        else if (strcmp(resp->digest, digest) != 0)
            rc = err_make(&local, ERR_FAILED_PRECONDITION, 0,
                          "commit %s: unexpected digest %s, expected %s", w->ref, resp->digest,
                          digest);
        if (resp)
            protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    /* someone else committed the same blob meanwhile: that is what we wanted */
    if (rc < 0 && local->kind == ERR_ALREADY_EXISTS) {
        local = error_drop(local);
        rc = 0;
    }
    writer_release(r, w, rc < 0);
    return rc < 0 ? give_error(err, local) : 0;
}

static void sink_blob_abort(void *arg, void *writer)
{
    writer_release(arg, writer, true);
}

static InfoResponse *content_info(struct archive_remote *r, const char *digest,
                                  struct berth_error **err)
{
    Containerd__Services__Content__V1__InfoRequest req = CINIT(INFO_REQUEST);
    req.digest = (char *)digest;
    InfoResponse *resp =
        (InfoResponse *)unary(r, CONTENT, "Info", &req.base, &C(info_response__descriptor), err);
    if (resp && !resp->info) {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        err_make(err, ERR_NOT_FOUND, 0, "content digest %s", digest);
        return NULL;
    }
    return resp;
}

static int remote_blob_size(void *arg, const char *digest, int64_t *ret_size,
                            struct berth_error **err)
{
    InfoResponse *resp = content_info(arg, digest, err);
    if (!resp)
        return -1;
    *ret_size = resp->info->size;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static void reader_close(struct remote_reader *rd)
{
    if (rd->call) {
        if (!rd->eof)
            rpc_call_cancel(rd->call);
        rpc_call_unref(rd->call);
    }
    if (rd->msg)
        protobuf_c_message_free_unpacked(&rd->msg->base, NULL);
    free(rd->digest);
    *rd = (struct remote_reader){0};
}

static ssize_t remote_blob_read_at(void *arg, const char *digest, int64_t offset, void *buf,
                                   size_t len, struct berth_error **err)
{
    struct archive_remote *r = arg;
    struct remote_reader *rd = &r->reader;
    if (rd->call && (strcmp(rd->digest, digest) != 0 || rd->offset != offset))
        reader_close(rd);
    if (!rd->call) {
        Containerd__Services__Content__V1__ReadContentRequest req = CINIT(READ_CONTENT_REQUEST);
        req.digest = (char *)digest;
        req.offset = offset;
        struct rpc_call *call =
            rpc_channel_start_call(cli_channel(r->cli), CONTENT, "Read", &r->options, err);
        if (!call)
            return -1;
        if (rpc_call_send(call, &req.base, err) < 0) {
            rpc_call_cancel(call);
            rpc_call_unref(call);
            return -1;
        }
        rpc_call_close_send(call);
        *rd = (struct remote_reader){.call = call, .digest = xstrdup(digest), .offset = offset};
    }
    size_t done = 0;
    while (done < len) {
        if (rd->msg && rd->pos < rd->msg->data.len) {
            size_t n = rd->msg->data.len - rd->pos;
            if (n > len - done)
                n = len - done;
            memcpy((uint8_t *)buf + done, rd->msg->data.data + rd->pos, n);
            rd->pos += n;
            done += n;
            continue;
        }
        if (rd->msg)
            protobuf_c_message_free_unpacked(&rd->msg->base, NULL);
        rd->msg = NULL;
        if (rd->eof)
            break;
        ProtobufCMessage *msg = NULL;
        int got = rpc_call_recv(rd->call, &C(read_content_response__descriptor), &msg, err);
        if (got < 0) {
            rd->eof = true; /* the call is over */
            reader_close(rd);
            return -1;
        }
        if (got == 0)
            rd->eof = true;
        rd->msg = (ReadResponse *)msg;
        rd->pos = 0;
    }
    rd->offset += (int64_t)done;
    return (ssize_t)done;
}

static int sink_blob_set_labels(void *arg, const char *digest, const struct archive_kv *labels,
                                size_t n_labels, struct berth_error **err)
{
    Containerd__Services__Content__V1__Info info = CINIT(INFO);
    info.digest = (char *)digest;
    info.labels = (void *)pb_entries(&C(info__labels_entry__descriptor), labels, n_labels);
    info.n_labels = n_labels;
    char **paths = xcalloc(n_labels + 1, sizeof(*paths));
    for (size_t i = 0; i < n_labels; i++)
        paths[i] = xasprintf("labels.%s", labels[i].key);
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = paths;
    mask.n_paths = n_labels;
    Containerd__Services__Content__V1__UpdateRequest req = CINIT(UPDATE_REQUEST);
    req.info = &info;
    req.update_mask = &mask;
    ProtobufCMessage *resp =
        unary(arg, CONTENT, "Update", &req.base, &C(update_response__descriptor), err);
    for (size_t i = 0; i < n_labels; i++)
        free(paths[i]);
    free(paths);
    free(info.labels);
    if (!resp)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* containerd's Walk with labels."containerd.io/uncompressed"==diff_id; the last digest wins. */
static int sink_find_compressed(void *arg, const char *diff_id, char **ret_digest,
                                int64_t *ret_size, struct berth_error **err)
{
    struct archive_remote *r = arg;
    _cleanup_free_ char *filter =
        xasprintf("labels.\"%s\"==%s", ARCHIVE_LABEL_UNCOMPRESSED, diff_id);
    Containerd__Services__Content__V1__ListContentRequest req = CINIT(LIST_CONTENT_REQUEST);
    req.filters = &filter;
    req.n_filters = 1;
    struct rpc_call *call =
        rpc_channel_start_call(cli_channel(r->cli), CONTENT, "List", &r->options, err);
    if (!call)
        return -1;
    if (rpc_call_send(call, &req.base, err) < 0) {
        rpc_call_cancel(call);
        rpc_call_unref(call);
        return -1;
    }
    rpc_call_close_send(call);
    char *best = NULL;
    int64_t best_size = 0;
    int got;
    for (;;) {
        ProtobufCMessage *msg = NULL;
        got = rpc_call_recv(call, &C(list_content_response__descriptor), &msg, err);
        if (got <= 0)
            break;
        Containerd__Services__Content__V1__ListContentResponse *resp = (void *)msg;
        for (size_t i = 0; i < resp->n_info; i++) {
            if (best && strcmp(resp->info[i]->digest, best) <= 0)
                continue;
            free(best);
            best = xstrdup(resp->info[i]->digest);
            best_size = resp->info[i]->size;
        }
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_call_unref(call);
    if (got < 0) {
        free(best);
        return -1;
    }
    if (!best)
        return 0;
    *ret_digest = best;
    *ret_size = best_size;
    return 1;
}

/* An Images API record for image; free with image_pb_clear. */
static void image_pb(const struct archive_image *image, PbImage *pb,
                     Containerd__Types__Descriptor *target)
{
    const struct archive_descriptor *d = &image->target;
    containerd__types__descriptor__init(target);
    target->media_type = d->media_type ? d->media_type : (char *)"";
    target->digest = d->digest ? d->digest : (char *)"";
    target->size = d->size;
    target->annotations =
        (void *)pb_entries(&containerd__types__descriptor__annotations_entry__descriptor,
                           d->annotations, d->n_annotations);
    target->n_annotations = d->n_annotations;
    I(image__init)(pb);
    pb->name = image->name;
    pb->labels =
        (void *)pb_entries(&I(image__labels_entry__descriptor), image->labels, image->n_labels);
    pb->n_labels = image->n_labels;
    pb->target = target;
}

static void image_pb_clear(PbImage *pb)
{
    free(pb->target->annotations);
    free(pb->labels);
}

static int image_create(struct archive_remote *r, PbImage *image, struct berth_error **err)
{
    Containerd__Services__Images__V1__CreateImageRequest req = IINIT(CREATE_IMAGE_REQUEST);
    req.image = image;
    ProtobufCMessage *resp =
        unary(r, IMAGES, "Create", &req.base, &I(create_image_response__descriptor), err);
    if (!resp)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* Update with these field paths (none: the whole record, as images.Store.Update without any). */
static int image_update(struct archive_remote *r, PbImage *image, char **paths, size_t n_paths,
                        struct berth_error **err)
{
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = paths;
    mask.n_paths = n_paths;
    Containerd__Services__Images__V1__UpdateImageRequest req = IINIT(UPDATE_IMAGE_REQUEST);
    req.image = image;
    req.update_mask = n_paths ? &mask : NULL;
    ProtobufCMessage *resp =
        unary(r, IMAGES, "Update", &req.base, &I(update_image_response__descriptor), err);
    if (!resp)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/*
 * The transfer service's image store creates, and on AlreadyExists updates the whole record
 * (target and labels); client.Import updates "target" (and "labels" when labels were given)
 * and creates on NotFound. Either retries when the record comes or goes meanwhile.
 */
static int sink_image_store(void *arg, const struct archive_image *image, struct berth_error **err)
{
    struct archive_remote *r = arg;
    PbImage pb;
    Containerd__Types__Descriptor target;
    image_pb(image, &pb, &target);
    char *paths[] = {(char *)"target", (char *)"labels"};
    size_t n_paths = r->naming == IMPORT_NAMING_TRANSFER ? 0 : image->replace_labels ? 2 : 1;
    struct berth_error *local = NULL;
    int rc = -1;
    for (int attempt = 0; rc < 0 && attempt < STORE_ATTEMPTS; attempt++) {
        local = error_drop(local);
        if (r->naming == IMPORT_NAMING_TRANSFER) {
            if ((rc = image_create(r, &pb, &local)) == 0 || local->kind != ERR_ALREADY_EXISTS)
                break;
            local = error_drop(local);
            if ((rc = image_update(r, &pb, paths, n_paths, &local)) == 0 ||
                local->kind != ERR_NOT_FOUND)
                break;
        } else {
            if ((rc = image_update(r, &pb, paths, n_paths, &local)) == 0 ||
                local->kind != ERR_NOT_FOUND)
                break;
            local = error_drop(local);
            if ((rc = image_create(r, &pb, &local)) == 0 || local->kind != ERR_ALREADY_EXISTS)
                break;
        }
    }
    image_pb_clear(&pb);
    return rc < 0 ? give_error(err, local) : 0;
}

/* ---- the export source ---- */

static int source_image_get(void *arg, const char *name, struct archive_image *ret,
                            struct berth_error **err)
{
    Containerd__Services__Images__V1__GetImageRequest req = IINIT(GET_IMAGE_REQUEST);
    req.name = (char *)name;
    Containerd__Services__Images__V1__GetImageResponse *resp =
        (void *)unary(arg, IMAGES, "Get", &req.base, &I(get_image_response__descriptor), err);
    if (!resp)
        return -1;
    PbImage *im = resp->image;
    if (!im || !im->target) {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        return err_make(err, ERR_NOT_FOUND, 0, "image \"%s\"", name);
    }
    memset(ret, 0, sizeof(*ret));
    ret->name = xstrdup(im->name);
    ret->n_labels = kv_from_entries((void *const *)im->labels, im->n_labels, &ret->labels, 0);
    ret->target.media_type = xstrdup(im->target->media_type);
    ret->target.digest = xstrdup(im->target->digest);
    ret->target.size = im->target->size;
    ret->target.n_annotations =
        kv_from_entries((void *const *)im->target->annotations, im->target->n_annotations,
                        &ret->target.annotations, 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int source_blob_info(void *arg, const char *digest, int64_t *ret_size,
                            struct archive_kv **ret_labels, size_t *ret_n_labels,
                            struct berth_error **err)
{
    InfoResponse *resp = content_info(arg, digest, err);
    if (!resp)
        return -1;
    *ret_size = resp->info->size;
    *ret_labels = NULL;
    *ret_n_labels =
        kv_from_entries((void *const *)resp->info->labels, resp->info->n_labels, ret_labels, 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* ---- the handle ---- */

struct archive_remote *archive_remote_new(struct cli *cli, const char *lease_id,
                                          enum import_naming naming)
{
    struct archive_remote *r = xcalloc(1, sizeof(*r));
    r->cli = cli;
    r->naming = naming;
    rpc_metadata_copy(&r->metadata, &cli->metadata);
    if (lease_id)
        rpc_metadata_add(&r->metadata, "containerd-lease", lease_id);
    r->options = cli_call_options(cli);
    r->options.metadata = &r->metadata;
    return r;
}

struct archive_remote *archive_remote_free(struct archive_remote *r)
{
    if (!r)
        return NULL;
    reader_close(&r->reader);
    rpc_metadata_clear(&r->metadata);
    free(r);
    return NULL;
}

struct import_sink archive_remote_sink(struct archive_remote *r)
{
    return (struct import_sink){
        .arg = r,
        .blob_begin = sink_blob_begin,
        .blob_write = sink_blob_write,
        .blob_commit = sink_blob_commit,
        .blob_abort = sink_blob_abort,
        .blob_size = remote_blob_size,
        .blob_read_at = remote_blob_read_at,
        .blob_set_labels = sink_blob_set_labels,
        .find_compressed = sink_find_compressed,
        .image_store = sink_image_store,
    };
}

struct export_source archive_remote_source(struct archive_remote *r)
{
    return (struct export_source){
        .arg = r,
        .image_get = source_image_get,
        .blob_info = source_blob_info,
        .blob_read_at = remote_blob_read_at,
    };
}

/* ---- leases ---- */

/* Go's time.Format(time.RFC3339) in the local zone. */
static void format_rfc3339_local(time_t t, char out[48])
{
    struct tm tm;
    tzset();
    localtime_r(&t, &tm);
    size_t n = strftime(out, 48, "%Y-%m-%dT%H:%M:%S", &tm);
    long offset = tm.tm_gmtoff, a = labs(offset);
    if (offset == 0)
        snprintf(out + n, 48 - n, "Z");
    else
        snprintf(out + n, 48 - n, "%c%02ld:%02ld", offset < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
}

char *archive_remote_lease_create(struct cli *cli, long expire_seconds, struct berth_error **err)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint8_t b[3] = {0};
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        long x = random();
        memcpy(b, &x, sizeof(b));
    }
    uint32_t v = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
    _cleanup_free_ char *id = xasprintf("%ld-%c%c%c%c", now.tv_nsec, b64url[v >> 18 & 63],
                                        b64url[v >> 12 & 63], b64url[v >> 6 & 63], b64url[v & 63]);
    char expiry[48];
    format_rfc3339_local(now.tv_sec + expire_seconds, expiry);
    Containerd__Services__Leases__V1__CreateRequest__LabelsEntry label;
    containerd__services__leases__v1__create_request__labels_entry__init(&label);
    label.key = (char *)"containerd.io/gc.expire";
    label.value = expiry;
    Containerd__Services__Leases__V1__CreateRequest__LabelsEntry *labels[] = {&label};
    Containerd__Services__Leases__V1__CreateRequest req =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    req.id = id;
    req.labels = labels;
    req.n_labels = 1;
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), LEASES, "Create", &req.base,
                          &containerd__services__leases__v1__create_response__descriptor, &resp,
                          &opts, err) < 0)
        return NULL;
    protobuf_c_message_free_unpacked(resp, NULL);
    return steal_ptr(id);
}

int archive_remote_lease_delete(struct cli *cli, const char *id, bool sync,
                                struct berth_error **err)
{
    Containerd__Services__Leases__V1__DeleteRequest req =
        CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
    req.id = (char *)id;
    req.sync = sync;
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), LEASES, "Delete", &req.base,
                          &google__protobuf__empty__descriptor, &resp, &opts, err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}
