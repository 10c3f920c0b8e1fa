#!/usr/bin/env python3
"""Regenerates Sources/APIServer/Protobuf/ProtoTable.swift.

client-go's typed clients (kubectl create configmap/secret/deployment/..., typed deletes)
send request bodies as Kubernetes protobuf. Decoding them needs the field numbers and types
of the built-in messages. kubectl itself carries those facts: every generated.proto file is
registered in the binary as a gzipped FileDescriptorProto. This script finds them in a
kubectl binary, reads the descriptors with a small wire-format reader (no protobuf library
needed), and writes the messages of the groups we serve as a compact table.

Usage: python3 scripts/gen-protobuf-schema.py [KUBECTL] > Sources/APIServer/Protobuf/ProtoTable.swift
"""
import re
import sys
import zlib

FILES = {
    "k8s.io/api/core/v1/generated.proto": "core",
    "k8s.io/api/apps/v1/generated.proto": "apps",
    "k8s.io/api/coordination/v1/generated.proto": "coordination",
    "k8s.io/api/discovery/v1/generated.proto": "discovery",
    "k8s.io/api/autoscaling/v1/generated.proto": "autoscaling",
    "k8s.io/api/policy/v1/generated.proto": "policy",
    "k8s.io/api/certificates/v1/generated.proto": "certificates",
    "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto": "meta",
    "k8s.io/apimachinery/pkg/api/resource/generated.proto": "resource",
    "k8s.io/apimachinery/pkg/util/intstr/generated.proto": "intstr",
    "k8s.io/apimachinery/pkg/runtime/generated.proto": "runtime",
}
PACKAGES = {
    "k8s.io.api.core.v1": "core", "k8s.io.api.apps.v1": "apps", "k8s.io.api.coordination.v1": "coordination",
    "k8s.io.api.discovery.v1": "discovery", "k8s.io.api.autoscaling.v1": "autoscaling", "k8s.io.api.policy.v1": "policy",
    "k8s.io.api.certificates.v1": "certificates",
    "k8s.io.apimachinery.pkg.apis.meta.v1": "meta", "k8s.io.apimachinery.pkg.api.resource": "resource",
    "k8s.io.apimachinery.pkg.util.intstr": "intstr", "k8s.io.apimachinery.pkg.runtime": "runtime",
}
SCALARS = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 8: "bool", 9: "string", 12: "bytes", 13: "uint32",
           17: "sint32", 18: "sint64"}


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def fields(b):
    """Yields (number, wire type, value) of one message."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield num, wt, v


def message(b, prefix, out):
    name, flds, nested, map_entry = "", [], [], False
    for num, _, v in fields(b):
        if num == 1:
            name = v.decode()
        elif num == 2:
            f = {}
            for fn, _, fv in fields(v):
                if fn == 1: f["name"] = fv.decode()
                elif fn == 3: f["number"] = fv
                elif fn == 4: f["label"] = fv
                elif fn == 5: f["type"] = fv
                elif fn == 6: f["type_name"] = fv.decode()
                elif fn == 10: f["json"] = fv.decode()
            flds.append(f)
        elif num == 3:
            nested.append(v)
        elif num == 7:
            map_entry = any(on == 7 and ov == 1 for on, _, ov in fields(v))
    full = prefix + "." + name
    out[full] = {"fields": flds, "map_entry": map_entry}
    for n in nested:
        message(n, full, out)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/usr/lib/google-cloud-sdk/bin/kubectl.1.32"
    data = open(path, "rb").read()
    messages = {}
    for m in re.finditer(b"\x1f\x8b\x08\x00\x00\x00\x00\x00", data):
        try:
            out = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[m.start():m.start() + 2_000_000])
        except zlib.error:
            continue
        name = package = None
        for num, _, v in fields(out) if out[:1] == b"\x0a" else []:
            if num == 1: name = v.decode(errors="replace")
            elif num == 2: package = v.decode(errors="replace")
        if name not in FILES:
            continue
        for num, _, v in fields(out):
            if num == 4:
                message(v, "." + package, messages)
    missing = [f for f, p in FILES.items() if not any(k.startswith("." + pk + ".") for pk, pp in PACKAGES.items() if pp == p for k in messages)]
    if missing:
        raise SystemExit("descriptors not found in %s: %s" % (path, missing))

    def short(type_name):
        t = type_name.lstrip(".")
        for pkg, p in PACKAGES.items():
            if t.startswith(pkg + "."):
                return p + "." + t[len(pkg) + 1:]
        raise SystemExit("type outside the known packages: " + type_name)

    def type_token(f):
        if f["type"] in SCALARS:
            return SCALARS[f["type"]]
        if f["type"] == 11:
            entry = messages.get(f["type_name"])
            if entry and entry["map_entry"]:
                k, v = entry["fields"][0], entry["fields"][1]
                return "{%s,%s}" % (type_token(k), type_token(v))
            return short(f["type_name"])
        raise SystemExit("unsupported field type %d" % f["type"])

    lines = []
    for full in sorted(messages, key=short):
        m = messages[full]
        if m["map_entry"]:
            continue
        parts = []
        for f in sorted(m["fields"], key=lambda f: f["number"]):
            tok = type_token(f)
            if f.get("label") == 3 and not tok.startswith("{"):
                tok = "[" + tok + "]"
            parts.append("%d=%s:%s" % (f["number"], f.get("json", f["name"]), tok))
        lines.append(short(full) + " " + " ".join(parts))
    w = sys.stdout.write
    w("// Generated by scripts/gen-protobuf-schema.py from the protobuf descriptors registered in\n")
    w("// kubectl (%s). Field numbers and types only. Do not edit by hand.\n\n" % path.rsplit("/", 1)[-1])
    w("/// One line per message: `group.Type number=name:type ...`; types are protobuf scalars,\n")
    w("/// a message, [T] (repeated) or {K,V} (map).\n")
    w("enum ProtoTable {\n    static let text = \"\"\"\n")
    for line in lines:
        w("        " + line + "\n")
    w("        \"\"\"\n}\n")


if __name__ == "__main__":
    main()
