/* `berthd publish --namespace NS --topic T` with an Any on stdin (containerd's publish binary). */
#pragma once

/* argv[0] is "publish"; address is the daemon's gRPC socket (the global --address). */
int berthd_publish_command(int argc, char **argv, const char *address);
