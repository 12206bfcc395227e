#!/usr/bin/python3
"""Creates N image records (Images/Create) in a daemon, for the `images ls` benchmark.

    populate_images.py SOCKET N
"""
import os
import subprocess
import sys
import tempfile

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TMP = tempfile.mkdtemp(prefix="berth-bench-py-")
PROTO = os.path.join(ROOT, "proto")
subprocess.run(["protoc", "-I", PROTO, "-I", "/usr/include", "--python_out=" + TMP,
                os.path.join(PROTO, "containerd/services/images/v1/images.proto"),
                os.path.join(PROTO, "containerd/types/descriptor.proto")], check=True)
sys.path.insert(0, TMP)
from containerd.services.images.v1 import images_pb2  # noqa: E402
from containerd.types import descriptor_pb2  # noqa: E402

sock, count = sys.argv[1], int(sys.argv[2])
channel = grpc.insecure_channel("unix://" + sock)
create = channel.unary_unary("/containerd.services.images.v1.Images/Create",
                             images_pb2.CreateImageRequest.SerializeToString,
                             images_pb2.CreateImageResponse.FromString)
for i in range(count):
    digest = "sha256:%064x" % (i + 1)
    create(images_pb2.CreateImageRequest(image=images_pb2.Image(
        name="bench.example/image-%05d:latest" % i,
        labels={"bench": "yes"},
        target=descriptor_pb2.Descriptor(
            media_type="application/vnd.oci.image.manifest.v1+json", digest=digest, size=512))),
        metadata=[("containerd-namespace", "bench")], timeout=10)
