/* Shared between the cgroups files: the handle, and parsers for cgroupfs and procfs text. */
#pragma once

#include "core/cgroups/cgroups.h"

#include <stddef.h>
#include <stdint.h>

/* Bound on any cgroupfs or procfs file we read whole (memory.stat is ~2 KiB, per-cpu lists and
 * per-device blkio files grow with the machine). */
#define CGROUPS_MAX_FILE (1u << 20)

struct cgroup {
    bool unified;
    char *dir[CGROUPS_CONTROLLER_COUNT]; /* v1: absolute directory per controller, or NULL */
    char *group_dir;                     /* v2: the group's absolute directory */
    char *proc_root;
    char *hugepages_dir;
    char *hugetlb_sizes; /* page size names ("2MB"), NUL-separated, double-NUL ended; or NULL */
};

/* Walks text line by line as Go's bufio.Scanner does: a final newline ends the last line rather
 * than starting an empty one. Writes NULs into the text. Returns false at the end. */
bool cg_next_line(char **cursor, char **ret_line);
/* Splits line in place on ASCII whitespace; stores up to max fields and returns how many there
 * are (which may exceed max). */
size_t cg_fields(char *line, char **fields, size_t max);

/* strconv.ParseUint(s, 10, bits): decimal digits only, within range. */
int cg_parse_uint_strict(const char *s, unsigned bits, uint64_t *ret);
/* containerd's parseUint: like strict, but a negative integer (any magnitude, "-0" excluded)
 * reads as 0. */
int cg_parse_uint(const char *s, unsigned bits, uint64_t *ret);

/* key → value pairs of a "key value" file, in file order; later duplicates win on lookup. */
struct cg_kv {
    size_t n, cap;
    struct {
        char *key;
        uint64_t value;
    } * items;
};
void cg_kv_clear(struct cg_kv *kv);
/* Value of key, or 0 when absent (the Go maps' zero value). */
uint64_t cg_kv_get(const struct cg_kv *kv, const char *key);
bool cg_kv_has(const struct cg_kv *kv, const char *key);
/* Parses "key value" lines (exactly two fields, value per cg_parse_uint) into kv. Malformed
 * lines are ERR_UNKNOWN naming `what` and the line. */
int cg_kv_parse(char *text, const char *what, struct cg_kv *kv, struct berth_error **err);

/*
 * Reads a file whole (bounded by CGROUPS_MAX_FILE). Errors carry the errno, so callers can tell
 * a missing file (errno ENOENT) from others.
 */
int cg_read_file(const char *path, char **ret_text, struct berth_error **err);
/* Reads a file of "key value" lines. */
int cg_read_kv_file(const char *path, struct cg_kv *kv, struct berth_error **err);
/*
 * containerd's single-value reads: the first 32 bytes, trimmed; "max" reads as max_value;
 * otherwise cg_parse_uint. A malformed value is ERR_UNKNOWN.
 */
int cg_read_uint_file(const char *path, uint64_t max_value, uint64_t *ret,
                      struct berth_error **err);

/* One line of /proc/<pid>/cgroup. controllers is "" for the v2 line. */
struct cg_proc_entry {
    char *controllers; /* comma-separated, as in the file ("cpu,cpuacct", "name=systemd") */
    char *path;
};
/* Parses /proc/<pid>/cgroup text; a line without two colons is ERR_INVALID_ARGUMENT. */
int cg_parse_proc_cgroup(char *text, struct cg_proc_entry **ret_entries, size_t *ret_n,
                         struct berth_error **err);
void cg_proc_entries_free(struct cg_proc_entry *entries, size_t n);
/* The root (field 4, unescaped) of the first v1 cgroup mount in mountinfo text whose super
 * options include `option` ("memory", "name=systemd"); NULL if there is none. */
char *cg_mountinfo_cgroup_root(const char *mountinfo, const char *option);
/* True for an absolute path without empty, "." or ".." components (a trailing '/' is allowed
 * only for "/" itself). */
bool cg_path_is_clean(const char *path);

/* A /proc/partitions device: (major, minor) → "/dev/<name>", first entry wins. */
struct cg_device {
    uint64_t major, minor;
    char *name;
};
/* Parses /proc/partitions (two header lines, then "major minor blocks name"). Lines with fewer
 * than four fields are skipped; a non-numeric major or minor is ERR_UNKNOWN. */
int cg_parse_partitions(char *text, struct cg_device **ret_devices, size_t *ret_n,
                        struct berth_error **err);
void cg_devices_free(struct cg_device *devices, size_t n);

/* Huge page size names from the entries of /sys/kernel/mm/hugepages ("hugepages-2048kB"):
 * v1 spells them like go-units' CustomSize ("2MB", "64KB", "1GB"), v2 like cgroup2's
 * getHugePageSizeFromFilenames (integer shifts). Entries that do not parse are skipped.
 * Returns a malloc'd NUL-separated, double-NUL-ended list in sorted name order, or NULL when
 * the directory cannot be read. */
char *cg_hugepage_sizes(const char *hugepages_dir, bool v2);

/* Parses a *.pressure file (PSI); false when malformed (containerd then reports no PSI). */
struct cg_psi_line {
    bool present;
    double avg10, avg60, avg300;
    uint64_t total;
};
bool cg_parse_psi(char *text, struct cg_psi_line *some, struct cg_psi_line *full);

/* One line of rdma.current/rdma.max: "<device> hca_handle=<n|max> hca_object=<n|max>". Returns
 * false for lines that are not three fields. max reads as UINT32_MAX. */
bool cg_parse_rdma_line(char *line, char **ret_device, uint32_t *ret_handles,
                        uint32_t *ret_objects);

/* A zero-initialised protobuf-c message of type desc, malloc'd (freed by cgroups_metrics_free). */
void *cg_message_new(const ProtobufCMessageDescriptor *desc);
/* Appends item to a repeated message field (*array of *n pointers). */
void cg_append(void ***array, size_t *n, void *item);
/* Moves a local error into the caller's out-param (if it has room), returning -1. */
int cg_error_pass(struct berth_error **err, struct berth_error *local);

int cg_stats_v1(const struct cgroup *cg, ProtobufCMessage **ret_metrics, struct berth_error **err);
int cg_stats_v2(const struct cgroup *cg, ProtobufCMessage **ret_metrics, struct berth_error **err);
