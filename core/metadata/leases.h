/* Leases: named holds on content, ingests, images and snapshots, with the resources they list. */
#pragma once

#include "core/metadata/db.h"
#include "core/metadata/labels.h"

#include <stdint.h>

/* The resource types a lease can hold (a snapshot resource is "snapshots/<snapshotter>"). */
#define LEASE_RESOURCE_CONTENT   "content"
#define LEASE_RESOURCE_INGESTS   "ingests"
#define LEASE_RESOURCE_IMAGES    "images"
#define LEASE_RESOURCE_SNAPSHOTS "snapshots"

struct lease {
    char *id;
    struct labels labels;
    int64_t created_at; /* CLOCK_REALTIME, ns */
};

struct lease_resource {
    char *id;
    char *type;
};

void lease_clear(struct lease *lease);

/*
 * Creates a lease; an empty or NULL id gets a random one as containerd makes them
 * ("<nanoseconds>-<4 base64url chars>"). Ids are not identifiers: containerd takes any string
 * (dockerd uses "moby-image-sha256:..."). Labels with empty values are dropped. The namespace is
 * created if missing. Returns the stored lease in *ret.
 */
int leases_create(struct metadata_db *db, const char *namespace_name, const char *id,
                  const struct labels *labels, struct lease *ret, struct berth_error **err);
/* Deletes a lease and every resource it lists, in one transaction. */
int leases_delete(struct metadata_db *db, const char *namespace_name, const char *id,
                  struct berth_error **err);
/* The namespace's leases sorted by id, those matching the filters (id, labels.<k>). */
int leases_list(struct metadata_db *db, const char *namespace_name, const char *const *filters,
                size_t n_filters, struct lease **ret, size_t *ret_count, struct berth_error **err);
void leases_list_free(struct lease *list, size_t count);

/*
 * Resources, as containerd's lease manager checks them: "content" (id must be a digest),
 * "ingests", "images", "snapshots/<snapshotter>"; a malformed type is InvalidArgument, another
 * type NotImplemented. A missing lease is NotFound.
 */
int leases_add_resource(struct metadata_db *db, const char *namespace_name, const char *lease_id,
                        const struct lease_resource *resource, struct berth_error **err);
/* Removing a resource the lease does not list is not an error. */
int leases_delete_resource(struct metadata_db *db, const char *namespace_name, const char *lease_id,
                           const struct lease_resource *resource, struct berth_error **err);
/* Sorted by type (content, images, ingests, snapshots/<name>), then id. */
int leases_list_resources(struct metadata_db *db, const char *namespace_name, const char *lease_id,
                          struct lease_resource **ret, size_t *ret_count, struct berth_error **err);
void lease_resources_free(struct lease_resource *list, size_t count);

/*
 * For other stores, inside their write transaction: adds the resource to the request's lease
 * (the containerd-lease header). A missing lease is NotFound "lease does not exist", as
 * containerd words it for objects created under a lease.
 */
int leases_add_resource_txn(struct metadata_txn *t, const char *namespace_name,
                            const char *lease_id, const char *type, const char *id,
                            struct berth_error **err);
/* Drops the resource from the lease if both exist; anything missing is not an error. */
int leases_remove_resource_txn(struct metadata_txn *t, const char *namespace_name,
                               const char *lease_id, const char *type, const char *id,
                               struct berth_error **err);
