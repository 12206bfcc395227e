/* berth images check: whether every blob of each image is in the content store, as ctr's. */
#pragma once

#include "cmd/berth/cli.h"

int cli_images_check(struct cli *cli, int argc, char **argv);
