#!/usr/bin/env python3
"""Writes Berth's test image archives (OCI layouts and a docker save archive) from busybox.

Deterministic: fixed mtimes, sorted entries, uid/gid 0, gzip without name or time, compact JSON.
Usage: build.py OUTDIR BUSYBOX DPKG_ARCH
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

EPOCH = 1704067200  # 2024-01-01T00:00:00Z, the mtime of every file inside the layers
CREATED = "2024-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
ANN_NAME = "io.containerd.image.name"
ANN_REF = "org.opencontainers.image.ref.name"

# dpkg architecture -> (GOARCH as OCI uses it, variant)
ARCHES = {
    "amd64": ("amd64", None), "x86_64": ("amd64", None),
    "arm64": ("arm64", None), "aarch64": ("arm64", None),
    "armhf": ("arm", "v7"), "armel": ("arm", "v6"),
    "i386": ("386", None), "ppc64el": ("ppc64le", None),
    "s390x": ("s390x", None), "riscv64": ("riscv64", None),
    "mips64el": ("mips64le", None), "loong64": ("loong64", None),
}

APPLETS = sorted([
    "sh", "ash", "echo", "true", "false", "ls", "cat", "sleep", "env", "mkdir", "rm", "rmdir",
    "touch", "test", "[", "id", "ps", "printf", "pwd", "uname", "wc", "grep", "head", "tail",
    "sed", "mount", "umount", "hostname", "kill", "date", "stat", "cp", "mv", "ln", "chmod",
    "chown", "tee", "find", "xargs", "dd", "seq", "sync", "whoami", "du", "df", "readlink",
    "basename", "dirname", "sort", "uniq", "tr", "cut", "yes", "nproc", "mktemp", "md5sum",
    "sha256sum", "nslookup", "ip", "ifconfig", "wget", "vi", "top", "free", "which",
])


def jdump(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(entries, mtime=EPOCH):
    """entries: (name, kind, mode, data_or_linkname) with kind in file/dir/symlink; sorted here."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, kind, mode, payload in sorted(entries, key=lambda e: e[0]):
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.mode = mode
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return buf.getvalue()


class Blobs:
    def __init__(self):
        self.data = {}

    def add(self, data):
        d = sha256(data)
        self.data[d] = data
        return d


def layer(blobs, entries):
    raw = tar_bytes(entries)
    gz = gzip_bytes(raw)
    return {"raw": raw, "diff_id": sha256(raw), "gz": gz,
            "desc": {"mediaType": MT_OCI_LAYER_GZIP, "digest": blobs.add(gz), "size": len(gz)}}


def image_config(arch, variant, layers, history):
    cfg = {"architecture": arch}
    if variant:
        cfg["variant"] = variant
    cfg.update({
        "os": "linux",
        "created": CREATED,
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [l["diff_id"] for l in layers]},
        "history": [{"created": CREATED, "created_by": h} for h in history],
    })
    return jdump(cfg)


def manifest(blobs, config, layers):
    cdesc = {"mediaType": MT_OCI_CONFIG, "digest": blobs.add(config), "size": len(config)}
    m = jdump({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": cdesc,
               "layers": [l["desc"] for l in layers]})
    return {"bytes": m, "config": cdesc,
            "desc": {"mediaType": MT_OCI_MANIFEST, "digest": blobs.add(m), "size": len(m)}}


def blob_path(digest):
    alg, hexpart = digest.split(":", 1)
    return "blobs/%s/%s" % (alg, hexpart)


def familiar(name):
    """distribution/reference's FamiliarString for the names used here."""
    if name.startswith("docker.io/library/") and "/" not in name[len("docker.io/library/"):]:
        return name[len("docker.io/library/"):]
    if name.startswith("docker.io/"):
        return name[len("docker.io/"):]
    return name


def oci_archive(blobs, top, name, compat):
    """An OCI layout tarball laid out as `ctr export` writes one; compat: (config, layers)."""
    index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [dict(
        top, annotations={ANN_NAME: name, ANN_REF: name.rsplit(":", 1)[1]})]}
    entries = [("blobs/", "dir", 0o755, None), ("blobs/sha256/", "dir", 0o755, None)]
    for digest, data in blobs.data.items():
        entries.append((blob_path(digest), "file", 0o444, data))
    entries.append(("index.json", "file", 0o644, jdump(index)))
    entries.append(("oci-layout", "file", 0o444, jdump({"imageLayoutVersion": "1.0.0"})))
    if compat:
        cdesc, layers = compat
        entries.append(("manifest.json", "file", 0o644, jdump([{
            "Config": blob_path(cdesc["digest"]), "RepoTags": [familiar(name)],
            "Layers": [blob_path(l["desc"]["digest"]) for l in layers]}])))
    return tar_bytes(entries, mtime=0)


def docker_archive(config, layers, repo, tag):
    """A `docker save` (v1.2) archive: per-layer directories, the config, manifest.json last."""
    entries, layer_paths, parent = [], [], None
    for l in layers:
        layer_id = hashlib.sha256((l["diff_id"] + (parent or "")).encode()).hexdigest()
        v1 = {"id": layer_id, "created": CREATED, "os": "linux"}
        if parent:
            v1["parent"] = parent
        entries += [(layer_id + "/", "dir", 0o755, None),
                    (layer_id + "/VERSION", "file", 0o644, b"1.0"),
                    (layer_id + "/json", "file", 0o644, jdump(v1)),
                    (layer_id + "/layer.tar", "file", 0o644, l["raw"])]
        layer_paths.append(layer_id + "/layer.tar")
        parent = layer_id
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    entries.append((config_name, "file", 0o644, config))
    # docker writes manifest.json and repositories after the layers; keep that order.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tail = [("manifest.json", "file", 0o644, jdump([{
                    "Config": config_name, "RepoTags": ["%s:%s" % (repo, tag)],
                    "Layers": layer_paths}])),
                ("repositories", "file", 0o644, jdump({repo: {tag: parent}}))]
        for name, kind, mode, payload in sorted(entries, key=lambda e: e[0]) + tail:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode, info.uid, info.gid = EPOCH, mode, 0, 0
            info.uname = info.gname = ""
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def write(outdir, name, data):
    path = os.path.join(outdir, name)
    tmp = os.path.join(outdir, ".%s.%d.tmp" % (name, os.getpid()))
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    outdir, busybox_path, dpkg_arch = sys.argv[1:4]
    if dpkg_arch not in ARCHES:
        sys.exit("build.py: unknown architecture %r" % dpkg_arch)
    arch, variant = ARCHES[dpkg_arch]
    with open(busybox_path, "rb") as f:
        busybox = f.read()

    base_entries = [
        ("bin", "dir", 0o755, None), ("bin/busybox", "file", 0o755, busybox),
        ("dev", "dir", 0o755, None), ("etc", "dir", 0o755, None),
        ("etc/passwd", "file", 0o644,
         b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
        ("etc/group", "file", 0o644, b"root:x:0:\nnogroup:x:65534:\n"),
        ("etc/motd", "file", 0o644, b"berth test image\n"),
        ("proc", "dir", 0o755, None), ("root", "dir", 0o700, None), ("sys", "dir", 0o755, None),
        ("tmp", "dir", 0o1777, None),
    ] + [("bin/" + a, "symlink", 0o777, "busybox") for a in APPLETS]
    summary = {"architecture": arch, "variant": variant or "", "images": {}}

    # busybox-oci.tar and busybox-docker.tar: one layer.
    blobs = Blobs()
    base = layer(blobs, base_entries)
    cfg = image_config(arch, variant, [base], ["busybox"])
    m = manifest(blobs, cfg, [base])
    name = "docker.io/library/busybox:latest"
    write(outdir, "busybox-oci.tar", oci_archive(blobs, m["desc"], name, (m["config"], [base])))
    summary["images"]["busybox-oci.tar"] = {
        "name": name, "manifest": m["desc"]["digest"], "config": m["config"]["digest"],
        "layers": [base["desc"]["digest"]], "diff_ids": [base["diff_id"]]}
    write(outdir, "busybox-docker.tar", docker_archive(cfg, [base], "busybox", "latest"))
    summary["images"]["busybox-docker.tar"] = {
        "name": name, "config": sha256(cfg), "diff_ids": [base["diff_id"]],
        "layer_sizes": [len(base["raw"])]}

    # busybox-3layer-oci.tar: a whiteout, then an opaque directory.
    blobs = Blobs()
    base = layer(blobs, base_entries)
    second = layer(blobs, [("etc", "dir", 0o755, None), ("etc/.wh.motd", "file", 0o644, b""),
                           ("data", "dir", 0o755, None), ("data/a", "file", 0o644, b"a\n")])
    third = layer(blobs, [("data", "dir", 0o755, None), ("data/.wh..wh..opq", "file", 0o644, b""),
                          ("data/b", "file", 0o644, b"b\n")])
    layers = [base, second, third]
    cfg = image_config(arch, variant, layers, ["busybox", "rm /etc/motd; add /data/a",
                                               "opaque /data; add /data/b"])
    m = manifest(blobs, cfg, layers)
    name = "docker.io/library/busybox:3layer"
    write(outdir, "busybox-3layer-oci.tar",
          oci_archive(blobs, m["desc"], name, (m["config"], layers)))
    summary["images"]["busybox-3layer-oci.tar"] = {
        "name": name, "manifest": m["desc"]["digest"], "config": m["config"]["digest"],
        "layers": [l["desc"]["digest"] for l in layers], "diff_ids": [l["diff_id"] for l in layers]}

    # busybox-multi-oci.tar: an index of the host manifest and a stand-in foreign one.
    other_arch = "amd64" if arch == "arm64" else "arm64"
    blobs = Blobs()
    base = layer(blobs, base_entries)
    host = manifest(blobs, image_config(arch, variant, [base], ["busybox"]), [base])
    fake_layer = layer(blobs, [("etc", "dir", 0o755, None),
                               ("etc/arch", "file", 0o644, other_arch.encode() + b"\n")])
    fake = manifest(blobs, image_config(other_arch, None, [fake_layer], ["stand-in"]), [fake_layer])
    host_platform = {"architecture": arch, "os": "linux"}
    if variant:
        host_platform["variant"] = variant
    index = jdump({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [
        dict(host["desc"], platform=host_platform),
        dict(fake["desc"], platform={"architecture": other_arch, "os": "linux"})]})
    idesc = {"mediaType": MT_OCI_INDEX, "digest": blobs.add(index), "size": len(index)}
    name = "docker.io/library/busybox:multi"
    write(outdir, "busybox-multi-oci.tar",
          oci_archive(blobs, idesc, name, (host["config"], [base])))
    summary["images"]["busybox-multi-oci.tar"] = {
        "name": name, "index": idesc["digest"], "manifest": host["desc"]["digest"],
        "other_manifest": fake["desc"]["digest"], "other_architecture": other_arch,
        "other_layers": [fake_layer["desc"]["digest"]], "other_config": fake["config"]["digest"]}

    write(outdir, "images.json", json.dumps(summary, indent=2, sort_keys=True).encode() + b"\n")


if __name__ == "__main__":
    main()
