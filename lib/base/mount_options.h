/* containerd's mount option words (core/mount/mount_linux.go): flags and propagation. */
#pragma once

#include <stdbool.h>

/*
 * When `option` is one of containerd's flag words ("ro", "nosuid", "rbind", "rw" clearing
 * MS_RDONLY, ...) it is applied to *flags; a propagation word ("rprivate", "shared", ...) is
 * added to *propagation. Returns false for anything else: filesystem data for mount(2).
 */
bool mount_option_apply(const char *option, unsigned long *flags, unsigned long *propagation);
