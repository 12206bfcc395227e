/*
 * The namespaced snapshotter layer over the backends, as containerd's core/metadata/snapshot.go:
 * records "<ns>\0<snapshotter>\0<key>" in the metadata database's snapshots table map keys to
 * backend keys "<ns>/<seq>/<key>", with parents, labels and times; leases hold snapshots.
 */
#pragma once

#include "core/metadata/db.h"
#include "core/snapshots/snapshots.h"

/*
 * Record value (decoded by core/metadata/gc.c as well): backend key, parent key, created,
 * updated (varints), labels.
 */
struct snapshot_record {
    char *backend_key;
    char *parent;
    int64_t created_ns, updated_ns;
    struct labels labels;
};

struct snapshots_metadata;

struct snapshots_metadata *snapshots_metadata_new(struct metadata_db *db);
void snapshots_metadata_free(struct snapshots_metadata *ms);
struct metadata_db *snapshots_metadata_db(const struct snapshots_metadata *ms);
/* Adds a backend (not owned); its name selects it. */
void snapshots_metadata_add_backend(struct snapshots_metadata *ms, struct snapshotter *backend);
/* NULL when no backend of that name is loaded. */
struct snapshotter *snapshots_metadata_backend(struct snapshots_metadata *ms, const char *name);
size_t snapshots_metadata_backend_count(const struct snapshots_metadata *ms);
const char *snapshots_metadata_backend_name(const struct snapshots_metadata *ms, size_t i);
/* InvalidArgument "snapshotter argument missing" / "snapshotter not loaded: <name>". */
int snapshots_metadata_check(struct snapshots_metadata *ms, const char *snapshotter,
                             struct berth_error **err);

/* lease: the request's containerd-lease, or NULL. readonly makes a view. */
int snapshots_metadata_prepare(struct snapshots_metadata *ms, const char *snapshotter,
                               const char *ns, const char *key, const char *parent,
                               const struct labels *labels, const char *lease, bool readonly,
                               struct mount_list *ret, struct berth_error **err);
int snapshots_metadata_mounts(struct snapshots_metadata *ms, const char *snapshotter,
                              const char *ns, const char *key, struct mount_list *ret,
                              struct berth_error **err);
int snapshots_metadata_commit(struct snapshots_metadata *ms, const char *snapshotter,
                              const char *ns, const char *name, const char *key,
                              const struct labels *labels, const char *lease,
                              struct berth_error **err);
int snapshots_metadata_remove(struct snapshots_metadata *ms, const char *snapshotter,
                              const char *ns, const char *key, const char *lease,
                              struct berth_error **err);
int snapshots_metadata_stat(struct snapshots_metadata *ms, const char *snapshotter, const char *ns,
                            const char *key, struct snapshot_info *ret, struct berth_error **err);
int snapshots_metadata_update(struct snapshots_metadata *ms, const char *snapshotter,
                              const char *ns, const struct snapshot_info *info,
                              const char *const *paths, size_t n_paths, struct snapshot_info *ret,
                              struct berth_error **err);
int snapshots_metadata_usage(struct snapshots_metadata *ms, const char *snapshotter, const char *ns,
                             const char *key, struct snapshot_usage *ret, struct berth_error **err);
/* Records matching the filters, sorted by key; fn runs after the transaction ends. */
int snapshots_metadata_walk(struct snapshots_metadata *ms, const char *snapshotter, const char *ns,
                            const struct filter *filter, snapshot_walk_fn fn, void *arg,
                            struct berth_error **err);
int snapshots_metadata_cleanup(struct snapshots_metadata *ms, const char *snapshotter,
                               struct berth_error **err);
/*
 * Garbage collection's last step: removes backend snapshots that no record names (children
 * first) and then unreferenced directories. Returns the number removed.
 */
size_t snapshots_metadata_collect_backends(struct snapshots_metadata *ms);
/* Shared: a backend snapshot is being made with its record; exclusive: collecting backends. */
void snapshots_metadata_backend_lock(struct snapshots_metadata *ms, bool exclusive);
void snapshots_metadata_backend_unlock(struct snapshots_metadata *ms);

/*
 * The snapshotter named `snapshotter` in namespace ns as a struct snapshotter (metadata_bound.c),
 * for in-process users such as the unpacker: its calls are the metadata layer's with ns, and
 * lease (may be NULL) as the containerd-lease header. Release with snapshots_metadata_unbind.
 */
int snapshots_metadata_bind(struct snapshots_metadata *ms, const char *snapshotter, const char *ns,
                            const char *lease, struct snapshotter **ret, struct berth_error **err);
struct snapshotter *snapshots_metadata_unbind(struct snapshotter *sn);

struct plugin_registration;
/* io.containerd.service.v1 "snapshots-service": the layer over every loaded snapshotter. */
extern const struct plugin_registration snapshots_service_store_plugin;
