/* berth images import and export (commands_archive.c), subcommands of berth images. */
#pragma once

#include "cmd/berth/cli.h"

int cli_images_import(struct cli *cli, int argc, char **argv);
int cli_images_export(struct cli *cli, int argc, char **argv);
