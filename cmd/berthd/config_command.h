/* `berthd config default|dump|migrate`: containerd's config subcommands. */
#pragma once

#include <stdbool.h>

struct plugin_set;

/*
 * Runs the config subcommand. argv[0] is "config" and argv[1] the subcommand:
 *   default  version 3 defaults, with every registered plugin's defaults
 *   dump     the effective config: defaults + config_path + imports, migrated, with plugin
 *            defaults filled in
 *   migrate  config_path alone (not its imports), as written, migrated to version 3
 * config_path is the daemon's --config value; explicit_path says whether it was given (a missing
 * default path is then not an error). plugins may be NULL (no plugin defaults). Writes the TOML
 * to stdout and errors to stderr; returns the exit code (0, 1 on failure, 2 on usage errors).
 */
int berthd_config_command(int argc, char **argv, const char *config_path, bool explicit_path,
                          const struct plugin_set *plugins);
