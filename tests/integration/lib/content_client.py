#!/usr/bin/python3
"""A small content-service client for tests that need what ctr cannot do (hold a writer open).

    content_client.py SOCKET NAMESPACE hold REF SECONDS   open a Write for REF, write 3 bytes,
                                                            print "held", keep it open
    content_client.py SOCKET NAMESPACE write REF DATA      one Write: stat, write, print status
"""
import os
import subprocess
import sys
import tempfile
import time

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TMP = tempfile.mkdtemp(prefix="berth-content-client-")
subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto/containerd/services/content/v1"),
                "-I", "/usr/include", "-I", os.path.join(ROOT, "proto"),
                "--python_out=" + TMP,
                os.path.join(ROOT, "proto/containerd/services/content/v1/content.proto")],
               check=True)
sys.path.insert(0, TMP)
import content_pb2  # noqa: E402

sock, ns, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
channel = grpc.insecure_channel("unix://" + sock)
write = channel.stream_stream("/containerd.services.content.v1.Content/Write",
                              content_pb2.WriteContentRequest.SerializeToString,
                              content_pb2.WriteContentResponse.FromString)
md = [("containerd-namespace", ns)]

if cmd == "hold":
    ref, seconds = sys.argv[4], float(sys.argv[5])

    def requests():
        yield content_pb2.WriteContentRequest(action=content_pb2.STAT, ref=ref)
        yield content_pb2.WriteContentRequest(action=content_pb2.WRITE, ref=ref, data=b"abc")
        time.sleep(seconds)
    it = write(requests(), metadata=md, timeout=seconds + 10)
    next(it)
    next(it)
    print("held", flush=True)
    try:
        for _ in it:
            pass
    except grpc.RpcError:
        pass
elif cmd == "write":
    ref, data = sys.argv[4], sys.argv[5].encode()

    def requests():
        yield content_pb2.WriteContentRequest(action=content_pb2.STAT, ref=ref)
        yield content_pb2.WriteContentRequest(action=content_pb2.WRITE, ref=ref, data=data)
    try:
        for r in write(requests(), metadata=md, timeout=10):
            print(r.action, r.offset, r.digest)
    except grpc.RpcError as e:
        print("error", e.code().name, e.details())
        sys.exit(1)
