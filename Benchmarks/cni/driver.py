#!/usr/bin/env python3
"""CNI ADD+DEL latency: swiftlet-bridge + swiftlet-host-local against the reference bridge +
host-local, measured in the same run, alternating between the two so both see the same
machine load. Each sample is one ADD followed by its DEL (with the ADD result as prevResult,
as a runtime sends it), driven purely by the CNI protocol (environment + stdin).

Run inside the benchmark's "node" network namespace (run.sh does that); the pod namespace is
given as argv[1]. Both configurations have ipMasq and isGateway on: the reference bridge then
spawns iptables, ours writes one nftables batch. Our bridge runs swiftlet-host-local in-process
(its code is linked in); set SWIFTLET_IPAM_EXEC=1 to make it exec the IPAM plugin as the
reference does (the environment is passed on to the plugins)."""
import json, os, resource, statistics, subprocess, sys, tempfile, time

POD_NETNS = sys.argv[1]
OURS_DIR = sys.argv[2]
ITERATIONS = int(os.environ.get("ITERATIONS", "100"))
WARMUP = int(os.environ.get("WARMUP", "5"))
REF_DIR = "/usr/lib/cni"

state = tempfile.mkdtemp(prefix="cni-bench-")

def config(bridge, ipam, subnet, name):
    return {
        "cniVersion": "1.0.0", "name": name, "type": bridge, "bridge": name + "0",
        "isGateway": True, "ipMasq": True, "hairpinMode": True,
        "ipam": {"type": ipam, "dataDir": state, "ranges": [[{"subnet": subnet}]],
                 "routes": [{"dst": "0.0.0.0/0"}]},
    }

CASES = {
    "swiftlet": (OURS_DIR, config("swiftlet-bridge", "swiftlet-host-local", "10.90.0.0/24", "bswift")),
    "reference": (REF_DIR, config("bridge", "host-local", "10.91.0.0/24", "bref")),
}

def invoke(directory, command, conf, container):
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_NETNS": POD_NETNS,
           "CNI_IFNAME": "eth0", "CNI_PATH": directory, "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    if os.environ.get("SWIFTLET_IPAM_EXEC"):
        env["SWIFTLET_IPAM_EXEC"] = os.environ["SWIFTLET_IPAM_EXEC"]
    done = subprocess.run([os.path.join(directory, conf["type"])], input=json.dumps(conf).encode(),
                          env=env, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"{conf['type']} {command} failed: {done.stdout.decode()} {done.stderr.decode()}")
    return done.stdout

cpu = {name: [] for name in CASES}

def add_del(name, index):
    directory, conf = CASES[name]
    container = f"bench-{name}-{index}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = json.loads(invoke(directory, "ADD", conf, container))
    deleting = dict(conf, prevResult=result)
    invoke(directory, "DEL", deleting, container)
    elapsed = (time.perf_counter() - start) * 1000.0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu[name].append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000.0)
    return elapsed

def spawn_overhead():
    start = time.perf_counter()
    subprocess.run(["/bin/true"], capture_output=True, input=b"{}")
    return (time.perf_counter() - start) * 1000.0

samples = {name: [] for name in CASES}
for i in range(WARMUP):
    for name in CASES:
        add_del(name, i)
cpu = {name: [] for name in CASES}
for i in range(ITERATIONS):
    order = list(CASES) if i % 2 == 0 else list(reversed(list(CASES)))
    for name in order:
        samples[name].append(add_del(name, i))
overhead = statistics.median(spawn_overhead() for _ in range(50))

def summary(values):
    values = sorted(values)
    return {"p50": statistics.median(values), "mean": statistics.fmean(values),
            "p90": values[int(len(values) * 0.9) - 1], "min": values[0], "max": values[-1]}

report = {name: summary(values) for name, values in samples.items()}
ratio = report["reference"]["p50"] / report["swiftlet"]["p50"]
print(f"CNI ADD+DEL latency, {ITERATIONS} samples each (after {WARMUP} warm-up), same run, alternating order")
print(f"{'plugins':<34}{'p50 ms':>9}{'mean ms':>9}{'p90 ms':>9}{'min ms':>9}{'max ms':>9}")
labels = {"swiftlet": "swiftlet-bridge + swiftlet-host-local", "reference": "bridge + host-local (Debian 1.1.1)"}
for name in ("swiftlet", "reference"):
    r = report[name]
    print(f"{labels[name]:<34}{r['p50']:>9.2f}{r['mean']:>9.2f}{r['p90']:>9.2f}{r['min']:>9.2f}{r['max']:>9.2f}")
print(f"ratio reference/swiftlet (p50): {ratio:.1f}x (target >= 5x)")
print(f"driver overhead per plugin exec (spawn /bin/true from Python, p50): {overhead:.2f} ms, included in both rows")
print(f"CPU time per sample (user+sys of all processes, p50): swiftlet {statistics.median(cpu['swiftlet']):.2f} ms, reference {statistics.median(cpu['reference']):.2f} ms")
json.dump({"samples": ITERATIONS, "report": report, "ratio_p50": ratio, "spawn_overhead_ms": overhead,
           "cpu_p50_ms": {name: statistics.median(values) for name, values in cpu.items()}},
          open(os.environ.get("REPORT", "/dev/null"), "w"), indent=2)
