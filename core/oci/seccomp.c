/* containerd's default seccomp profile (contrib/seccomp, 2.0: no io_uring), per arch and caps. */
#include "core/oci/opts.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#define ACT_ALLOW "SCMP_ACT_ALLOW"
#define ACT_ERRNO "SCMP_ACT_ERRNO"

/* Syscalls every container may make (ptrace and friends depend on the kernel, below). */
static const char *const allowed[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "map_shadow_stack",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
};

/* The personality(2) values the profile lets through (Linux, PER_LINUX32, UNAME26 variants). */
static const uint64_t personalities[] = {0x0, 0x0008, 0x20000, 0x20008, 0xffffffff};

static struct oci_syscall *add_rule(struct oci_seccomp *p, const char *action,
                                    const char *const *names, size_t n)
{
    p->syscalls = xrealloc(p->syscalls, (p->n_syscalls + 1) * sizeof(*p->syscalls));
    struct oci_syscall *c = &p->syscalls[p->n_syscalls++];
    memset(c, 0, sizeof(*c));
    c->action = action;
    for (size_t i = 0; i < n; i++)
        oci_strv_push(&c->names, names[i]);
    return c;
}

#define ALLOW(p, ...)                                                                              \
    do {                                                                                           \
        static const char *const names_[] = {__VA_ARGS__};                                         \
        add_rule(p, ACT_ALLOW, names_, ARRAY_SIZE(names_));                                        \
    } while (0)

static void add_arg(struct oci_syscall *c, unsigned index, uint64_t value, const char *op)
{
    c->args = xrealloc(c->args, (c->n_args + 1) * sizeof(*c->args));
    c->args[c->n_args++] = (struct oci_seccomp_arg){.index = index, .value = value, .op = op};
}

/* kernelversion.GreaterEqualThan(4.8) from uname's release. */
static bool kernel_at_least(int major, int minor)
{
    struct utsname u;
    int ma = 0, mi = 0;
    if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

static void add_arches(struct oci_strv *a)
{
#if defined(__x86_64__)
    oci_strv_push(a, "SCMP_ARCH_X86_64");
    oci_strv_push(a, "SCMP_ARCH_X86");
    oci_strv_push(a, "SCMP_ARCH_X32");
#elif defined(__aarch64__)
    oci_strv_push(a, "SCMP_ARCH_ARM");
    oci_strv_push(a, "SCMP_ARCH_AARCH64");
#elif defined(__s390x__)
    oci_strv_push(a, "SCMP_ARCH_S390");
    oci_strv_push(a, "SCMP_ARCH_S390X");
#elif defined(__riscv) && __riscv_xlen == 64
    oci_strv_push(a, "SCMP_ARCH_RISCV64");
#else
    (void)a; /* containerd lists no architectures elsewhere */
#endif
}

static void add_arch_syscalls(struct oci_seccomp *p)
{
#if defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    ALLOW(p, "sync_file_range2", "swapcontext");
#elif defined(__aarch64__) || defined(__arm__)
    ALLOW(p, "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
          "cacheflush", "set_tls");
#elif defined(__x86_64__)
    ALLOW(p, "arch_prctl", "modify_ldt");
#elif defined(__i386__)
    ALLOW(p, "modify_ldt");
#elif defined(__s390x__) || defined(__s390__)
    ALLOW(p, "s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr");
#elif defined(__riscv) && __riscv_xlen == 64
    ALLOW(p, "riscv_flush_icache");
#else
    (void)p;
#endif
}

struct oci_seccomp *oci_seccomp_default(const struct oci_spec *s)
{
    struct oci_seccomp *p = xcalloc(1, sizeof(*p));
    p->default_action = ACT_ERRNO;
    add_arches(&p->architectures);
    add_rule(p, ACT_ALLOW, allowed, ARRAY_SIZE(allowed));
    static const char *const socket_name[] = {"socket"};
    add_arg(add_rule(p, ACT_ALLOW, socket_name, 1), 0, 40 /* AF_VSOCK */, "SCMP_CMP_NE");
    static const char *const personality_name[] = {"personality"};
    for (size_t i = 0; i < ARRAY_SIZE(personalities); i++)
        add_arg(add_rule(p, ACT_ALLOW, personality_name, 1), 0, personalities[i], "SCMP_CMP_EQ");
    if (kernel_at_least(4, 8))
        ALLOW(p, "process_vm_readv", "process_vm_writev", "ptrace");
    add_arch_syscalls(p);

    bool admin = false;
    const struct oci_strv *bounding = &s->process.capabilities.bounding;
    for (size_t i = 0; i < bounding->n; i++) {
        const char *c = bounding->v[i];
        if (strcmp(c, "CAP_DAC_READ_SEARCH") == 0) {
            ALLOW(p, "open_by_handle_at");
        } else if (strcmp(c, "CAP_SYS_ADMIN") == 0) {
            admin = true;
            ALLOW(p, "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
                  "fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
                  "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
                  "setns", "syslog", "umount", "umount2", "unshare");
        } else if (strcmp(c, "CAP_SYS_BOOT") == 0) {
            ALLOW(p, "reboot");
        } else if (strcmp(c, "CAP_SYS_CHROOT") == 0) {
            ALLOW(p, "chroot");
        } else if (strcmp(c, "CAP_SYS_MODULE") == 0) {
            ALLOW(p, "delete_module", "init_module", "finit_module");
        } else if (strcmp(c, "CAP_SYS_PACCT") == 0) {
            ALLOW(p, "acct");
        } else if (strcmp(c, "CAP_SYS_PTRACE") == 0) {
            ALLOW(p, "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                  "process_vm_writev", "ptrace");
        } else if (strcmp(c, "CAP_SYS_RAWIO") == 0) {
            ALLOW(p, "iopl", "ioperm");
        } else if (strcmp(c, "CAP_SYS_TIME") == 0) {
            ALLOW(p, "settimeofday", "stime", "clock_settime", "clock_settime64");
        } else if (strcmp(c, "CAP_SYS_TTY_CONFIG") == 0) {
            ALLOW(p, "vhangup");
        } else if (strcmp(c, "CAP_SYS_NICE") == 0) {
            ALLOW(p, "get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node");
        } else if (strcmp(c, "CAP_SYSLOG") == 0) {
            ALLOW(p, "syslog");
        } else if (strcmp(c, "CAP_BPF") == 0) {
            ALLOW(p, "bpf");
        } else if (strcmp(c, "CAP_PERFMON") == 0) {
            ALLOW(p, "perf_event_open");
        }
    }
    if (!admin) {
        /* clone without new namespaces: CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP
         */
        const uint64_t ns_flags = 0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 |
                                  0x40000000 | 0x02000000;
        static const char *const clone_name[] = {"clone"};
#if defined(__s390x__) || defined(__s390__)
        add_arg(add_rule(p, ACT_ALLOW, clone_name, 1), 1, ns_flags, "SCMP_CMP_MASKED_EQ");
#else
        add_arg(add_rule(p, ACT_ALLOW, clone_name, 1), 0, ns_flags, "SCMP_CMP_MASKED_EQ");
#endif
        /* clone3 cannot be filtered by flags: ENOSYS makes libcs fall back to clone */
        static const char *const clone3_name[] = {"clone3"};
        struct oci_syscall *c = add_rule(p, ACT_ERRNO, clone3_name, 1);
        c->has_errno_ret = true;
        c->errno_ret = ENOSYS;
    }
    return p;
}
