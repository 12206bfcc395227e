#!/usr/bin/python3
"""Creates, starts, kills and deletes N containers one after the other over gRPC, and prints the
total wall time in seconds: the `create+start+delete` benchmark's tight client.

    task_cycle.py SOCKET NAMESPACE TEMPLATE PREFIX N [STEPS]

TEMPLATE is an existing container (made by `ctr c create IMAGE TEMPLATE sleep 1000`); each new
container PREFIX<i> copies its spec, runtime and image, with its own snapshot (Snapshots/Prepare
on the template snapshot's parent) and cgroup path. Per container, as ctr and containerd's client
do it: Prepare, Containers/Create, Tasks/Create (rootfs mounts, no stdio), Start, Kill SIGKILL,
Wait, Tasks/Delete, Containers/Delete, Snapshots/Remove. Whatever fails, what this run created is
removed before the error is raised. With STEPS, a JSON line is appended to that file: the
seconds spent in each RPC, summed over the N containers.
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO = os.path.join(ROOT, "proto")
TMP = tempfile.mkdtemp(prefix="berth-bench-py-")
atexit.register(shutil.rmtree, TMP, True)
subprocess.run(["protoc", "-I", PROTO, "-I", "/usr/include", "--python_out=" + TMP] +
               [os.path.join(PROTO, p) for p in (
                   "containerd/services/containers/v1/containers.proto",
                   "containerd/services/leases/v1/leases.proto",
                   "containerd/services/tasks/v1/tasks.proto",
                   "containerd/services/snapshots/v1/snapshots.proto",
                   "containerd/types/descriptor.proto",
                   "containerd/types/metrics.proto",
                   "containerd/types/mount.proto",
                   "containerd/types/task/task.proto")], check=True)
sys.path.insert(0, TMP)
from containerd.services.containers.v1 import containers_pb2 as cpb  # noqa: E402
from containerd.services.leases.v1 import leases_pb2 as lpb  # noqa: E402
from containerd.services.snapshots.v1 import snapshots_pb2 as spb  # noqa: E402
from containerd.services.tasks.v1 import tasks_pb2 as tpb  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402

sock, namespace, template, prefix, count = sys.argv[1:6]
count = int(count)
steps_file = sys.argv[6] if len(sys.argv) > 6 else None
steps = {}
meta = (("containerd-namespace", namespace),)
channel = grpc.insecure_channel("unix://" + sock)


def rpc(service, method, req_type, resp_type):
    name = "%s/%s" % (service.split(".")[0], method)
    call = channel.unary_unary("/containerd.services.%s/%s" % (service, method),
                               req_type.SerializeToString, resp_type.FromString)

    def timed(req, extra=()):
        t = time.monotonic()
        try:
            return call(req, metadata=meta + extra, timeout=60)
        finally:
            steps[name] = steps.get(name, 0) + time.monotonic() - t
    return timed


get_container = rpc("containers.v1.Containers", "Get", cpb.GetContainerRequest,
                    cpb.GetContainerResponse)
create_container = rpc("containers.v1.Containers", "Create", cpb.CreateContainerRequest,
                       cpb.CreateContainerResponse)
delete_container = rpc("containers.v1.Containers", "Delete", cpb.DeleteContainerRequest,
                       empty_pb2.Empty)
create_lease = rpc("leases.v1.Leases", "Create", lpb.CreateRequest, lpb.CreateResponse)
delete_lease = rpc("leases.v1.Leases", "Delete", lpb.DeleteRequest, empty_pb2.Empty)
stat_snapshot = rpc("snapshots.v1.Snapshots", "Stat", spb.StatSnapshotRequest,
                    spb.StatSnapshotResponse)
prepare = rpc("snapshots.v1.Snapshots", "Prepare", spb.PrepareSnapshotRequest,
              spb.PrepareSnapshotResponse)
remove_snapshot = rpc("snapshots.v1.Snapshots", "Remove", spb.RemoveSnapshotRequest,
                      empty_pb2.Empty)
create_task = rpc("tasks.v1.Tasks", "Create", tpb.CreateTaskRequest, tpb.CreateTaskResponse)
start_task = rpc("tasks.v1.Tasks", "Start", tpb.StartRequest, tpb.StartResponse)
kill_task = rpc("tasks.v1.Tasks", "Kill", tpb.KillRequest, empty_pb2.Empty)
wait_task = rpc("tasks.v1.Tasks", "Wait", tpb.WaitRequest, tpb.WaitResponse)
delete_task = rpc("tasks.v1.Tasks", "Delete", tpb.DeleteTaskRequest, tpb.DeleteResponse)

tmpl = get_container(cpb.GetContainerRequest(id=template)).container
parent = stat_snapshot(spb.StatSnapshotRequest(snapshotter=tmpl.snapshotter,
                                               key=tmpl.snapshot_key)).info.parent
spec = json.loads(tmpl.spec.value)


def cycle(cid, made):
    """One container's life; `made` names what exists, for undo() if a call fails."""
    # a lease holds the snapshot until the container refers to it, as containerd's client does
    # it (the garbage collector could take it in between)
    expire = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    lease = create_lease(lpb.CreateRequest(labels={"containerd.io/gc.expire": expire})).lease.id
    made["lease"] = lease
    mounts = prepare(spb.PrepareSnapshotRequest(snapshotter=tmpl.snapshotter, key=cid,
                                                parent=parent),
                     (("containerd-lease", lease),)).mounts
    made["snapshot"] = True
    spec["linux"]["cgroupsPath"] = "/%s/%s" % (namespace, cid)
    c = cpb.Container()
    c.CopyFrom(tmpl)
    c.id = cid
    c.snapshot_key = cid
    c.spec.value = json.dumps(spec).encode()
    c.ClearField("created_at")
    c.ClearField("updated_at")
    create_container(cpb.CreateContainerRequest(container=c))
    made["container"] = True
    delete_lease(lpb.DeleteRequest(id=made.pop("lease")))
    create_task(tpb.CreateTaskRequest(container_id=cid, rootfs=mounts))
    made["task"] = True
    start_task(tpb.StartRequest(container_id=cid))
    kill_task(tpb.KillRequest(container_id=cid, signal=9))
    wait_task(tpb.WaitRequest(container_id=cid))
    delete_task(tpb.DeleteTaskRequest(container_id=cid))
    del made["task"]
    # the snapshot goes before the container, as `ctr c rm` does it: once the container is gone
    # nothing holds the snapshot and the garbage collector may remove it first
    remove_snapshot(spb.RemoveSnapshotRequest(snapshotter=tmpl.snapshotter, key=cid))
    del made["snapshot"]
    delete_container(cpb.DeleteContainerRequest(id=cid))
    del made["container"]


def undo(cid, made):
    calls = []
    if "task" in made:
        calls += [lambda: kill_task(tpb.KillRequest(container_id=cid, signal=9, all=True)),
                  lambda: wait_task(tpb.WaitRequest(container_id=cid)),
                  lambda: delete_task(tpb.DeleteTaskRequest(container_id=cid))]
    if "snapshot" in made:
        calls.append(lambda: remove_snapshot(spb.RemoveSnapshotRequest(
            snapshotter=tmpl.snapshotter, key=cid)))
    if "container" in made:
        calls.append(lambda: delete_container(cpb.DeleteContainerRequest(id=cid)))
    if "lease" in made:
        calls.append(lambda: delete_lease(lpb.DeleteRequest(id=made["lease"])))
    for call in calls:
        try:
            call()
        except grpc.RpcError:
            pass


steps.clear()
start = time.monotonic()
for i in range(count):
    made = {}
    try:
        cycle("%s%d" % (prefix, i), made)
    except BaseException:
        undo("%s%d" % (prefix, i), made)
        raise
print("%.3f" % (time.monotonic() - start))
if steps_file:
    with open(steps_file, "a") as f:
        f.write(json.dumps(steps) + "\n")
