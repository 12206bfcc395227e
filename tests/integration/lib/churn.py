#!/usr/bin/python3
"""Keeps writing blobs, creating images under leases and deleting images until killed or the
daemon goes away (crash tests), or verifies what a daemon lists (verify mode).

    churn.py SOCKET run SEED
    churn.py SOCKET verify     every image's target blob exists and matches its digest
"""
import hashlib
import os
import random
import subprocess
import sys
import tempfile

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TMP = tempfile.mkdtemp(prefix="berth-churn-")
PROTO = os.path.join(ROOT, "proto")
subprocess.run(["protoc", "-I", PROTO, "-I", "/usr/include", "--python_out=" + TMP]
               + [os.path.join(PROTO, p) for p in (
                   "containerd/services/images/v1/images.proto",
                   "containerd/services/content/v1/content.proto",
                   "containerd/services/leases/v1/leases.proto",
                   "containerd/types/descriptor.proto")], check=True)
sys.path.insert(0, TMP)
from containerd.services.content.v1 import content_pb2  # noqa: E402
from containerd.services.images.v1 import images_pb2  # noqa: E402
from containerd.services.leases.v1 import leases_pb2  # noqa: E402
from containerd.types import descriptor_pb2  # noqa: E402

sock, mode = sys.argv[1], sys.argv[2]
ch = grpc.insecure_channel("unix://" + sock)
NS = [("containerd-namespace", "crash")]


def unary(path, req, resp):
    return ch.unary_unary(path, req.SerializeToString, resp.FromString)


create_image = unary("/containerd.services.images.v1.Images/Create",
                     images_pb2.CreateImageRequest, images_pb2.CreateImageResponse)
delete_image = ch.unary_unary("/containerd.services.images.v1.Images/Delete",
                              images_pb2.DeleteImageRequest.SerializeToString, lambda b: b)
list_images = unary("/containerd.services.images.v1.Images/List",
                    images_pb2.ListImagesRequest, images_pb2.ListImagesResponse)
create_lease = unary("/containerd.services.leases.v1.Leases/Create",
                     leases_pb2.CreateRequest, leases_pb2.CreateResponse)
delete_lease = ch.unary_unary("/containerd.services.leases.v1.Leases/Delete",
                              leases_pb2.DeleteRequest.SerializeToString, lambda b: b)
write = ch.stream_stream("/containerd.services.content.v1.Content/Write",
                         content_pb2.WriteContentRequest.SerializeToString,
                         content_pb2.WriteContentResponse.FromString)
read = ch.unary_stream("/containerd.services.content.v1.Content/Read",
                       content_pb2.ReadContentRequest.SerializeToString,
                       content_pb2.ReadContentResponse.FromString)


def put_blob(data, md):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    def reqs():
        yield content_pb2.WriteContentRequest(action=content_pb2.STAT, ref="churn-" + digest,
                                              total=len(data), expected=digest)
        yield content_pb2.WriteContentRequest(action=content_pb2.COMMIT, ref="churn-" + digest,
                                              total=len(data), expected=digest, data=data)
    try:
        for _ in write(reqs(), metadata=md, timeout=10):
            pass
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
    return digest


if mode == "run":
    rnd = random.Random(int(sys.argv[3]))
    n = 0
    try:
        while True:
            n += 1
            lease = create_lease(leases_pb2.CreateRequest(
                labels={"containerd.io/gc.expire": "2099-01-01T00:00:00Z"}), metadata=NS,
                timeout=10).lease.id
            md = NS + [("containerd-lease", lease)]
            data = os.urandom(rnd.randint(1, 256 << 10))
            digest = put_blob(data, md)
            name = "crash.example/img-%d-%d:latest" % (os.getpid(), n)
            create_image(images_pb2.CreateImageRequest(image=images_pb2.Image(
                name=name, target=descriptor_pb2.Descriptor(
                    media_type="application/octet-stream", digest=digest, size=len(data)))),
                metadata=md, timeout=10)
            delete_lease(leases_pb2.DeleteRequest(id=lease), metadata=NS, timeout=10)
            if rnd.random() < 0.4:
                imgs = list_images(images_pb2.ListImagesRequest(), metadata=NS, timeout=10).images
                if imgs:
                    victim = rnd.choice(imgs).name
                    delete_image(images_pb2.DeleteImageRequest(name=victim, sync=rnd.random() < 0.5),
                                 metadata=NS, timeout=10)
    except grpc.RpcError:
        sys.exit(0)  # the daemon was killed: expected
elif mode == "verify":
    imgs = list_images(images_pb2.ListImagesRequest(), metadata=NS, timeout=10).images
    for img in imgs:
        h = hashlib.sha256()
        for chunk in read(content_pb2.ReadContentRequest(digest=img.target.digest), metadata=NS,
                          timeout=10):
            h.update(chunk.data)
        got = "sha256:" + h.hexdigest()
        if got != img.target.digest:
            print("image %s: blob %s reads as %s" % (img.name, img.target.digest, got))
            sys.exit(1)
    print("verified %d images" % len(imgs))
