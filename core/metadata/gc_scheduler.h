/* io.containerd.gc.v1 "scheduler": runs garbage collection after deletions, or on demand. */
#pragma once

#include "lib/base/errors.h"

struct gc_scheduler;

/* A deletion happened: collect soon (in the background, paced by pause_threshold). */
void gc_scheduler_deleted(struct gc_scheduler *s);
/* Collects now and waits (a delete with sync=true). */
int gc_scheduler_run_sync(struct gc_scheduler *s, struct berth_error **err);

struct plugin_registration;
extern const struct plugin_registration gc_scheduler_plugin;
