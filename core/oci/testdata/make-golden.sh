#!/usr/bin/env bash
# Regenerates the golden specs: each is what Debian's ctr (1.6.20) stores for a container created
# with the flags below on a stock containerd, rewritten to containerd 2.0's output where 2.0
# differs (see to_v2 in this file and core/oci/README.md).
# Usage: CONTAINERD_ADDRESS=<socket> make-golden.sh   (busybox test image imported as
# docker.io/library/busybox:latest; run as root; uses namespace "default")
set -euo pipefail
cd "$(dirname "$0")"
ctr=(ctr -n default)
img=docker.io/library/busybox:latest
create() { "${ctr[@]}" containers create "$@" >/dev/null; }
# ctr 1.6 has some flags only on run; the container record stays after the task ends
run() { local id=${*: -1}; timeout 30 "${ctr[@]}" run "$@" true >/dev/null 2>&1 || true
  "${ctr[@]}" containers info "$id" >/dev/null; }

for id in default cmd env tty mounts nethost seccomp seccomp_admin rootfs readonly resources \
  cfs propagation privileged; do
  "${ctr[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true
  "${ctr[@]}" containers delete "$id" >/dev/null 2>&1 || true
done
printf 'A=1\nB=2\n' >/tmp/make-golden-env.$$
create "$img" default
create "$img" cmd echo hello world
create --env FOO=bar --env PATH=/x --env-file /tmp/make-golden-env.$$ "$img" env
rm -f /tmp/make-golden-env.$$
create -t --cwd /tmp "$img" tty
create --mount type=bind,src=/tmp,dst=/host,options=rbind:ro \
  --mount type=tmpfs,source=tmpfs,destination=/run,options=nosuid "$img" mounts
create --net-host "$img" nethost
create --seccomp "$img" seccomp
create --seccomp --cap-add CAP_SYS_ADMIN --cap-add CAP_SYS_PTRACE --cap-add CAP_DAC_READ_SEARCH \
  "$img" seccomp_admin
create --rootfs /tmp/somerootfs rootfs sh
run --read-only --annotation a=b --label l1=v1 --label l2 "$img" readonly
run --memory-limit 67108864 --cpus 1.5 --cpu-shares 512 "$img" resources
run --cpu-quota 20000 --cpu-period 100000 --cgroup /mygroup --with-ns network:/proc/1/ns/net \
  --allow-new-privs --cap-add CAP_SYS_ADMIN --cap-drop CAP_KILL "$img" cfs
run --rootfs-propagation shared "$img" propagation
run --privileged "$img" privileged

for id in default cmd env tty mounts nethost seccomp seccomp_admin rootfs readonly resources \
  cfs propagation privileged; do
  "${ctr[@]}" containers info --spec "$id" | python3 -c '
import json, socket, sys
s = json.load(sys.stdin)
# containerd 2.0 vendors runtime-spec 1.2.0 and masks one more path
s["ociVersion"] = "1.2.0"
masked = s["linux"].get("maskedPaths")
if masked and "/sys/firmware" in masked:
    masked.insert(masked.index("/sys/firmware") + 1, "/sys/devices/virtual/powercap")
if "env" in s["process"]:
    s["process"]["env"] = ["HOSTNAME=golden-host" if e == "HOSTNAME=" + socket.gethostname()
                           else e for e in s["process"]["env"]]
# 2.0: a --mount replaces a default mount with the same destination (WithoutMounts)
user = [m for m in s.get("mounts", []) if m["destination"] in ("/host",) or
        (m["destination"] == "/run" and m.get("options") == ["nosuid"])]
if user:
    dests = {m["destination"] for m in user}
    s["mounts"] = [m for m in s["mounts"] if m["destination"] not in dests] + user
sec = s["linux"].get("seccomp")
if sec:
    rules = sec["syscalls"]
    # 2.0: io_uring gone, newer syscalls in, socket only without AF_VSOCK
    names = [n for n in rules[0]["names"] if not n.startswith("io_uring") and n != "socket"]
    for after, new in [("brk", "cachestat"), ("fchmodat", "fchmodat2"), ("futex", "futex_requeue"),
                       ("futex_time64", "futex_wait"), ("futex_waitv", "futex_wake"),
                       ("mlockall", "map_shadow_stack"), ("munmap", "name_to_handle_at")]:
        if new not in names:
            names.insert(names.index(after) + 1, new)
    rules[0]["names"] = names
    rules.insert(1, {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]})
    for r in rules:
        if r["names"] == ["ptrace"]:
            r["names"] = ["process_vm_readv", "process_vm_writev", "ptrace"]
        if r["names"] == ["get_mempolicy", "mbind", "name_to_handle_at", "set_mempolicy"]:
            r["names"] = ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]
        if "unshare" in r["names"] and "name_to_handle_at" in r["names"]:
            r["names"].remove("name_to_handle_at")  # 2.0 allows it for everyone
        if r["names"] == ["kcmp", "process_vm_readv", "process_vm_writev", "ptrace"]:
            r["names"] = ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                          "process_vm_writev", "ptrace"]
print(json.dumps(s, separators=(",", ":")))
' >"$id.json"
  "${ctr[@]}" containers delete "$id" >/dev/null
done
