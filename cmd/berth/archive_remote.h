/* core/archive's storage interfaces over berthd's Content, Images and Leases services. */
#pragma once

#include "cmd/berth/cli.h"
#include "core/archive/archive.h"

/*
 * A connection-backed store for the archive code: blobs through Content/Write (pipelined WRITE
 * messages of at most 1 MiB; a stale ingest under the same ref is aborted and written again),
 * Info, Read (one stream per sequential reader), Update and List; images through Images/Create,
 * Update and Get. Every call carries the CLI's namespace and, when given, the lease.
 */
struct archive_remote;

/* `naming` picks how image_store writes existing images (see archive_remote.c). */
struct archive_remote *archive_remote_new(struct cli *cli, const char *lease_id,
                                          enum import_naming naming);
struct archive_remote *archive_remote_free(struct archive_remote *r);

struct import_sink archive_remote_sink(struct archive_remote *r);
struct export_source archive_remote_source(struct archive_remote *r);

/*
 * As containerd's client.WithLease: a lease with a random id ("<nanoseconds>-<base64url>") expiring
 * in `expire_seconds` (containerd.io/gc.expire, RFC 3339 in local time). Returns the id (malloc'd)
 * or NULL with *err set.
 */
char *archive_remote_lease_create(struct cli *cli, long expire_seconds, struct berth_error **err);
/* sync: wait for a garbage collection, so that what only the lease held is gone on return. */
int archive_remote_lease_delete(struct cli *cli, const char *id, bool sync,
                                struct berth_error **err);
