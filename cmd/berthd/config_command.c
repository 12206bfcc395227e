/* berthd config default|dump|migrate: print the default, effective or migrated configuration. */
#include "config_command.h"
#include "core/config/config.h"
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fputs("Usage: berthd config COMMAND\n"
          "\n"
          "Information on the berthd (containerd-compatible) config.\n"
          "\n"
          "Commands:\n"
          "  default   print the default config, with the defaults of every plugin\n"
          "  dump      print the effective config: the config file with its imports, migrated\n"
          "  migrate   print the config file migrated to version 3 (imports are not migrated)\n",
          out);
}

static int print_document(char *text)
{
    if (!text) {
        fputs("berthd: config: cannot write the config\n", stderr);
        return 1;
    }
    fputs(text, stdout);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int fail(const char *subcommand, struct berth_error *err)
{
    fprintf(stderr, "berthd: config %s: %s\n", subcommand, err ? err->message : "failed");
    err_free(err);
    return 1;
}

static int config_default(const struct plugin_set *plugins)
{
    _cleanup_config_ struct berth_config *c = config_new_default();
    return print_document(config_to_toml(c, plugins));
}

static int config_dump(const char *path, bool explicit_path, const struct plugin_set *plugins)
{
    struct berth_error *err = NULL;
    _cleanup_config_ struct berth_config *c = NULL;
    if (config_load(path, explicit_path, &c, &err) < 0)
        return fail("dump", err);
    return print_document(config_to_toml(c, plugins));
}

static int config_migrate(const char *path, bool explicit_path)
{
    struct berth_error *err = NULL;
    struct stat st;
    if (!explicit_path && stat(path, &st) < 0 && errno == ENOENT) {
        /* nothing written yet: the migrated form of an empty file */
        fputs("version = 3\n", stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    _cleanup_toml_ struct toml_value *tree = NULL;
    if (toml_parse_file(path, &tree, &err) < 0 || config_migrate_tree(tree, path, NULL, &err) < 0)
        return fail("migrate", err);
    return print_document(toml_write(tree));
}

int berthd_config_command(int argc, char **argv, const char *config_path, bool explicit_path,
                          const struct plugin_set *plugins)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (argc > 2) {
        fprintf(stderr, "berthd: config %s: unexpected argument \"%s\"\n", sub, argv[2]);
        return 2;
    }
    if (!config_path)
        config_path = CONFIG_DEFAULT_PATH;
    if (strcmp(sub, "default") == 0)
        return config_default(plugins);
    if (strcmp(sub, "dump") == 0)
        return config_dump(config_path, explicit_path, plugins);
    if (strcmp(sub, "migrate") == 0)
        return config_migrate(config_path, explicit_path);
    fprintf(stderr, "berthd: config: unknown command \"%s\"\n", sub);
    usage(stderr);
    return 2;
}
