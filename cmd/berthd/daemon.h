/* berthd's daemon: config → plugins → servers, and an orderly stop. */
#pragma once

#include "lib/base/errors.h"

struct berth_config;
struct plugin_set;

void daemon_register_builtins(struct plugin_set *set);

/* Runs the daemon with a loaded config until SIGTERM/SIGINT; returns the exit code. */
int daemon_run(struct berth_config *config);
