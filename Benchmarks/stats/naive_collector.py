#!/usr/bin/env python3
"""The naive peer for the stats benchmark: reads the same kernel files the Swift collector
reads, for the same cgroups and processes, the straightforward way (open/read every file,
listdir + readlink every fd, /proc/PID/net/dev for pod traffic), and reports its own CPU time
per round. It is the floor to beat: a collector that does nothing clever."""
import json
import os
import sys
import time


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError, OSError):
        return None


def keyed(data):
    out = {}
    if data:
        for line in data.decode().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                out[parts[0]] = int(parts[1])
    return out


def pids_of(cgroup_dir):
    pids = []
    for root, dirs, _ in os.walk(cgroup_dir):
        data = read(os.path.join(root, "cgroup.procs"))
        if data:
            pids.extend(int(x) for x in data.split())
    return pids


def sample_cgroup(d):
    s = {"cpu": keyed(read(d + "/cpu.stat"))}
    for p in ("cpu", "memory", "io"):
        s[p + "_pressure"] = read(d + "/" + p + ".pressure")
    pids = pids_of(d)
    threads = 0
    for root, _, _ in os.walk(d):
        data = read(os.path.join(root, "cgroup.threads"))
        threads += len(data.split()) if data else 0
    s["procs"], s["threads"] = len(pids), threads
    current = read(d + "/memory.current")
    if current is not None:
        s["mem"] = keyed(read(d + "/memory.stat"))
        for f in ("memory.swap.current", "memory.peak", "memory.max"):
            s[f] = read(d + "/" + f)
        s["events"] = keyed(read(d + "/memory.events"))
    else:
        pss = 0
        for pid in pids:
            data = read("/proc/%d/smaps_rollup" % pid)
            if data:
                for line in data.decode().splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        s["pss"] = pss
    s["io"] = read(d + "/io.stat")
    s["pids_max"] = read(d + "/pids.max")
    fds = sockets = 0
    for pid in pids:
        fd_dir = "/proc/%d/fd" % pid
        try:
            for name in os.listdir(fd_dir):
                fds += 1
                try:
                    if os.readlink(fd_dir + "/" + name).startswith("socket:"):
                        sockets += 1
                except OSError:
                    pass
        except OSError:
            pass
    s["fds"], s["sockets"] = fds, sockets
    if pids:
        s["limits"] = read("/proc/%d/limits" % min(pids))
    return s


def net_dev(pid):
    data = read("/proc/%d/net/dev" % pid)
    out = {}
    if data:
        for line in data.decode().splitlines()[2:]:
            name, rest = line.split(":", 1)
            out[name.strip()] = [int(x) for x in rest.split()]
    return out


def round_(targets):
    result = []
    for pod in targets["pods"]:
        containers = [sample_cgroup(c) for c in pod["containers"]]
        entry = {"pod": sample_cgroup(pod["cgroup"]), "containers": containers}
        if pod.get("netPid"):
            entry["net"] = net_dev(pod["netPid"])
        result.append(entry)
    return result


def main():
    targets = json.load(open(sys.argv[1]))
    rounds = int(sys.argv[2])
    round_(targets)  # warm-up, as the Swift side gets
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        round_(targets)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    print(json.dumps({"cpu_ms_per_round": (cpu1 - cpu0) * 1000 / rounds,
                      "wall_ms_per_round": (wall1 - wall0) * 1000 / rounds}))


if __name__ == "__main__":
    main()
