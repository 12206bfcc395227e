#!/usr/bin/python3
"""Writes 3 gzip (level 6) layers made of this system's /usr/lib files into DIR/blobs/sha256 (a
content store root) and prints "DIGEST DIFF_ID" for each: compressible, real-world data where
inflating costs about as much as extracting, for the in-process unpack benchmark.

    make_system_layers.py DIR
"""
import gzip
import hashlib
import io
import os
import sys
import tarfile

root = sys.argv[1]
os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
files = []
for d, _, names in os.walk("/usr/lib"):
    for n in names:
        p = os.path.join(d, n)
        if os.path.isfile(p) and not os.path.islink(p):
            files.append(p)
files.sort()
pairs, i = [], 0
for layer in range(3):
    raw, size = io.BytesIO(), 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        while size < (64 << 20) and i < len(files):
            try:
                t.add(files[i], arcname="layer%d/%06d" % (layer, i))
                size += os.path.getsize(files[i])
            except OSError:
                pass
            i += 1
    tar = raw.getvalue()
    gz = gzip.compress(tar, compresslevel=6, mtime=0)
    digest = hashlib.sha256(gz).hexdigest()
    with open(os.path.join(root, "blobs", "sha256", digest), "wb") as f:
        f.write(gz)
    pairs.append("sha256:%s sha256:%s" % (digest, hashlib.sha256(tar).hexdigest()))
print(" ".join(pairs))
