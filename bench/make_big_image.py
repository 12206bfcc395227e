#!/usr/bin/python3
"""Writes an OCI image layout tarball with 3 gzip layers of ~100 MiB each (half random, half
text), for the import+unpack benchmark.

    make_big_image.py OUT.tar
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def layer(index):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for i in range(50):
            data = os.urandom(1 << 20) if i % 2 else (b"berth layer %d line\n" % index) * 55000
            info = tarfile.TarInfo("layer%d/file%03d" % (index, i))
            info.size = len(data)
            info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    tar = raw.getvalue()
    return tar, gzip.compress(tar, compresslevel=1, mtime=0)


def blob(out, data):
    d = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + d)
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
    return "sha256:" + d


arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
with tarfile.open(sys.argv[1], "w") as out:
    layers, diff_ids = [], []
    for i in range(3):
        tar, gz = layer(i)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": blob(out, gz), "size": len(gz)})
    config = json.dumps({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "config": {}}).encode()
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": blob(out, config), "size": len(config)},
                           "layers": layers}).encode()
    mdigest = blob(out, manifest)
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest,
        "size": len(manifest), "annotations": {
            "io.containerd.image.name": "bench.example/big:latest",
            "org.opencontainers.image.ref.name": "latest"}}]}).encode()
    for name, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
