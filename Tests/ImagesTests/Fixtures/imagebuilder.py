#!/usr/bin/env python3
"""Test image builder for the Images tests: writes an image described by a JSON spec as an
OCI image layout directory, an OCI layout tar and a docker-archive tar, with no network.

usage: imagebuilder.py SPEC.json   (prints a JSON summary: ref, digests, diff ids)

spec: {"out": DIR, "name": "repo:tag", "compress": true, "format": "pax"|"gnu"|"ustar",
       "config": {...image config "config" section...},
       "layers": [[entry, ...], ...],
       "corrupt": null | "truncate-gzip" | "bad-diff-id" | "bad-blob-digest" | "garbage-tar" | "truncate-tar",
       "multiarch": false (true: the layout's entry is an index of linux/arm64 + this image as linux/amd64)}
entry: {"path": P, "type": "file"|"dir"|"symlink"|"hardlink"|"char"|"block"|"fifo",
        "data": TEXT | "source": FILE, "link": TARGET, "mode": INT, "uid": INT, "gid": INT,
        "mtime": NUMBER, "major": INT, "minor": INT, "xattrs": {NAME: VALUE}}
Entry paths are written verbatim (hostile names included): this script never sanitises.
"""
import gzip, hashlib, io, json, os, sys, tarfile

spec = json.load(open(sys.argv[1]))
out = spec["out"]
name = spec.get("name", "test.local/img:latest")
fmt = {"pax": tarfile.PAX_FORMAT, "gnu": tarfile.GNU_FORMAT, "ustar": tarfile.USTAR_FORMAT}[spec.get("format", "pax")]
compress = spec.get("compress", True)
corrupt = spec.get("corrupt")
sha = lambda b: hashlib.sha256(b).hexdigest()
TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
         "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}

def layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["path"])
            ti.type = TYPES[e.get("type", "file")]
            ti.mode = e.get("mode", 0o755 if e.get("type") == "dir" else 0o644)
            ti.uid, ti.gid = e.get("uid", 0), e.get("gid", 0)
            ti.mtime = e.get("mtime", 1700000000)
            ti.linkname = e.get("link", "")
            ti.devmajor, ti.devminor = e.get("major", 0), e.get("minor", 0)
            if e.get("xattrs"):
                ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in e["xattrs"].items()}
            data = None
            if ti.type == tarfile.REGTYPE:
                data = open(e["source"], "rb").read() if "source" in e else e.get("data", "").encode()
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()

raws = [layer_tar(entries) for entries in spec["layers"]]
diff_ids = ["sha256:" + sha(r) for r in raws]
blobs = [gzip.compress(r, mtime=0) if compress else r for r in raws]
if corrupt == "truncate-gzip":
    blobs[-1] = blobs[-1][: len(blobs[-1]) // 2]
if corrupt == "truncate-tar":
    raws[-1] = raws[-1][: len(raws[-1]) // 2 + 100]
    blobs[-1] = gzip.compress(raws[-1], mtime=0) if compress else raws[-1]
if corrupt == "garbage-tar":
    raws[-1] = bytes(range(256)) * 8
    blobs[-1] = gzip.compress(raws[-1], mtime=0) if compress else raws[-1]
if corrupt == "bad-diff-id":
    diff_ids[-1] = "sha256:" + "0" * 64
config = {"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
          "config": spec.get("config", {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]}),
          "rootfs": {"type": "layers", "diff_ids": diff_ids}}
cfg = json.dumps(config, separators=(",", ":")).encode()
layer_type = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else "")
layer_descs = [{"mediaType": layer_type, "digest": "sha256:" + sha(b), "size": len(b)} for b in blobs]
if corrupt == "bad-blob-digest":
    layer_descs[-1]["digest"] = "sha256:" + sha(b"something else")
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + sha(cfg), "size": len(cfg)},
            "layers": layer_descs}
man = json.dumps(manifest, separators=(",", ":")).encode()
repo, tag = name.rsplit(":", 1)
annotations = {"org.opencontainers.image.ref.name": tag, "io.containerd.image.name": name}
top = {"mediaType": manifest["mediaType"], "digest": "sha256:" + sha(man), "size": len(man)}
extra_blobs = []
if spec.get("multiarch"):
    # A nested image index: linux/arm64 (a marker file, listed first) and our image as linux/amd64.
    arm_raw = layer_tar([{"path": "arch", "data": "arm64"}])
    arm_gz = gzip.compress(arm_raw, mtime=0)
    arm_cfg = json.dumps({"architecture": "arm64", "os": "linux", "config": {},
                          "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(arm_raw)]}}).encode()
    arm_man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + sha(arm_cfg), "size": len(arm_cfg)},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + sha(arm_gz), "size": len(arm_gz)}]}).encode()
    nested = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(arm_man), "size": len(arm_man),
         "platform": {"architecture": "arm64", "os": "linux"}},
        dict(top, platform={"architecture": "amd64", "os": "linux"})]}).encode()
    extra_blobs = [arm_gz, arm_cfg, arm_man, nested]
    top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + sha(nested), "size": len(nested)}
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [dict(top, annotations=annotations)]}
oci = os.path.join(out, "oci")
os.makedirs(os.path.join(oci, "blobs", "sha256"), exist_ok=True)
for i, b in enumerate(blobs + [cfg, man] + extra_blobs):
    digest = layer_descs[i]["digest"][7:] if i < len(blobs) else sha(b)
    open(os.path.join(oci, "blobs", "sha256", digest), "wb").write(b)
open(os.path.join(oci, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
open(os.path.join(oci, "index.json"), "w").write(json.dumps(index))
with tarfile.open(os.path.join(out, "oci.tar"), "w") as t:
    t.add(oci, arcname=".")
with tarfile.open(os.path.join(out, "docker.tar"), "w") as t:
    def add(n, b):
        ti = tarfile.TarInfo(n); ti.size = len(b); ti.mtime = 0; t.addfile(ti, io.BytesIO(b))
    add(sha(cfg) + ".json", cfg)
    paths = []
    for r, b in zip(raws, blobs):
        # docker save writes uncompressed layers; "compress" keeps them gzipped to test detection.
        p = sha(r) + "/layer.tar"
        if p not in paths:
            add(p, b if spec.get("docker_compressed") else r)
        paths.append(p)
    add("manifest.json", json.dumps([{"Config": sha(cfg) + ".json", "RepoTags": [name], "Layers": paths}]).encode())
print(json.dumps({"ref": name, "manifestDigest": "sha256:" + sha(man), "configDigest": "sha256:" + sha(cfg),
                  "topDigest": top["digest"],
                  "diffIDs": diff_ids, "layerDigests": [d["digest"] for d in layer_descs]}))
