#!/usr/bin/env python3
"""Image pull from a loopback registry: `swiftlet image pull` vs `skopeo copy`, same run.

usage: pull_bench.py SWIFTLET_BINARY [RUNS]

Starts Debian's docker-registry on 127.0.0.1 (plain HTTP, temporary storage), pushes a ~2 MB
busybox image (Debian's busybox-static, built by Tests/ImagesTests/Fixtures/imagebuilder.py)
with skopeo, then alternates, RUNS times each, into a fresh destination every time:
  swiftlet: swiftlet image pull --root-dir NEW --insecure-registry H REF   (download + verify + unpack)
  skopeo:   skopeo copy --src-tls-verify=false docker://REF oci:NEW:latest (download + verify + write layout)
Wall time of the whole command, so both pay process start. Prints p50/p90/min per tool.
Needs root (the pull unpacks with owners), docker-registry and skopeo.
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

binary = os.path.abspath(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
here = os.path.dirname(os.path.abspath(__file__))
builder = os.path.join(here, "..", "..", "Tests", "ImagesTests", "Fixtures", "imagebuilder.py")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

work = tempfile.mkdtemp(prefix="swiftlet-pull-bench.")
registry = None
try:
    port = free_port()
    host = f"127.0.0.1:{port}"
    os.makedirs(f"{work}/data")
    with open(f"{work}/config.yml", "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {work}/data\nhttp:\n  addr: {host}\n  secret: bench\n")
    registry = subprocess.Popen(["docker-registry", "serve", f"{work}/config.yml"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close(); break
        except OSError:
            time.sleep(0.025)
    applets = ["sh", "ls", "cat", "sleep", "echo", "true", "env", "id", "ps", "mkdir", "rm", "grep"]
    entries = [{"path": d, "type": "dir"} for d in ["bin", "etc", "tmp", "proc", "sys", "dev"]]
    entries.append({"path": "bin/busybox", "source": "/bin/busybox", "mode": 0o755})
    entries += [{"path": "bin/" + a, "type": "symlink", "link": "busybox"} for a in applets]
    entries.append({"path": "etc/passwd", "data": "root:x:0:0:root:/root:/bin/sh\n"})
    spec = {"out": f"{work}/img", "name": "bench.local/busybox:latest", "layers": [entries]}
    json.dump(spec, open(f"{work}/spec.json", "w"))
    image = json.loads(subprocess.check_output([sys.executable, builder, f"{work}/spec.json"]))
    policy = f"{work}/policy.json"
    json.dump({"default": [{"type": "insecureAcceptAnything"}]}, open(policy, "w"))
    ref = f"{host}/bench/busybox:latest"
    subprocess.check_call(["skopeo", "--policy", policy, "copy", "--dest-tls-verify=false",
                           f"oci:{work}/img/oci:latest", f"docker://{ref}"], stdout=subprocess.DEVNULL)
    blob = os.path.getsize(f"{work}/img/oci/blobs/sha256/{image['layerDigests'][0][7:]}")

    commands = {
        "swiftlet image pull": lambda dest: [binary, "image", "pull", "--root-dir", dest, "--insecure-registry", host, ref],
        "skopeo copy": lambda dest: ["skopeo", "--policy", policy, "copy", "--src-tls-verify=false",
                                     f"docker://{ref}", f"oci:{dest}/oci:latest"],
    }
    times = {name: [] for name in commands}
    for i in range(runs + 2):  # two warm-up rounds (page cache, first exec)
        for name, command in commands.items():
            dest = f"{work}/dest-{i}"
            os.makedirs(dest)
            t0 = time.perf_counter()
            subprocess.run(command(dest), check=True, stdout=subprocess.DEVNULL)
            elapsed = (time.perf_counter() - t0) * 1000
            shutil.rmtree(dest)
            if i >= 2:
                times[name].append(elapsed)
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]
    print(f"image: busybox, 1 layer, {blob / 1e6:.2f} MB compressed, {os.path.getsize('/bin/busybox') / 1e6:.2f} MB unpacked; "
          f"{runs} cold pulls each, loopback registry (docker-registry {host})")
    print(f"{'tool':24} {'p50 ms':>8} {'p90 ms':>8} {'min ms':>8}")
    for name, xs in times.items():
        print(f"{name:24} {statistics.median(xs):8.1f} {q(xs, 0.9):8.1f} {min(xs):8.1f}")
    ratio = statistics.median(times["skopeo copy"]) / statistics.median(times["swiftlet image pull"])
    print(f"swiftlet is {ratio:.1f}x faster than skopeo (p50), and also unpacks the layer")
finally:
    if registry:
        registry.kill(); registry.wait()
    shutil.rmtree(work, ignore_errors=True)
