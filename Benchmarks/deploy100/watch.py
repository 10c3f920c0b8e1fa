#!/usr/bin/env python3
"""Watches the pods of one Deployment through the API server and times their startup.

usage: watch.py SERVER TOKEN CAFILE NAMESPACE SELECTOR COUNT APPLY_TIME_FILE OUT.json [TIMEOUT_S]

Lists the pods (for a resourceVersion), opens a watch from there, prints "watching" (the
caller applies the Deployment then, after writing the apply time, epoch seconds, to
APPLY_TIME_FILE), and records for every pod the wall-clock time the watch first saw it and
the time it first saw it Running with every container started. Ends when COUNT pods are
Running or TIMEOUT_S passes; writes the raw records to OUT.json and prints the summary.

Per-pod startup latency follows upstream's SLI (pod creationTimestamp to the watch observing
it Running with all containers started; image pulls excluded: the image is imported before).
creationTimestamp has one-second resolution, so the same latency is also given from the
moment the watch saw the pod created (ADDED), which this host observes within milliseconds.
"""
import calendar, http.client, json, os, ssl, sys, time, urllib.parse

server, token, cafile, ns, selector, count, apply_file, out = sys.argv[1:9]
count = int(count)
timeout = float(sys.argv[9]) if len(sys.argv) > 9 else 120.0
u = urllib.parse.urlparse(server)
ctx = ssl.create_default_context(cafile=cafile)
headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}


def conn():
    return http.client.HTTPSConnection(u.hostname, u.port or 443, context=ctx, timeout=timeout + 30)


def rfc3339(s):
    if not s:
        return None
    frac = 0.0
    if "." in s:
        s, rest = s.split(".", 1)
        frac = float("0." + rest.rstrip("Z"))
        s += "Z"
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) + frac


q = urllib.parse.urlencode({"labelSelector": selector})
c = conn()
c.request("GET", f"/api/v1/namespaces/{ns}/pods?{q}", headers=headers)
r = c.getresponse()
lst = json.loads(r.read())
rv = lst["metadata"]["resourceVersion"]
c.close()

c = conn()
q = urllib.parse.urlencode({"labelSelector": selector, "watch": "1", "resourceVersion": rv,
                            "timeoutSeconds": str(int(timeout) + 10)})
c.request("GET", f"/api/v1/namespaces/{ns}/pods?{q}", headers=headers)
r = c.getresponse()
if r.status != 200:
    sys.exit(f"watch failed: {r.status} {r.read()[:200]!r}")
print("watching", flush=True)

pods = {}  # uid -> record
running = 0
deadline = time.time() + timeout
events = 0
while running < count and time.time() < deadline:
    line = r.readline()
    now = time.time()
    if not line:
        break
    line = line.strip()
    if not line:
        continue
    ev = json.loads(line)
    events += 1
    obj = ev.get("object", {})
    md = obj.get("metadata", {})
    uid = md.get("uid")
    if not uid or ev.get("type") not in ("ADDED", "MODIFIED"):
        continue
    p = pods.get(uid)
    if p is None:
        p = pods[uid] = {"name": md.get("name"), "created": rfc3339(md.get("creationTimestamp")), "seen": now,
                         "events": 0, "running": None}
    p["events"] += 1
    st = obj.get("status", {})
    if p.get("scheduled") is None and obj.get("spec", {}).get("nodeName"):
        p["scheduled"] = now
    if p.get("statusSeen") is None and st.get("hostIP"):
        p["statusSeen"] = now  # the node's first status write (the API server sets only the phase)
    cs = st.get("containerStatuses") or []
    ncont = len(obj.get("spec", {}).get("containers", []))
    started = (st.get("phase") == "Running" and len(cs) == ncont and ncont > 0
               and all(s.get("state", {}).get("running") is not None and s.get("started", True) for s in cs))
    if started and p["running"] is None:
        p["running"] = now
        p["containerStartedAt"] = rfc3339(cs[0]["state"]["running"].get("startedAt"))
        running += 1
c.close()

t_apply = None
for _ in range(50):
    try:
        t_apply = float(open(apply_file).read().strip())
        break
    except (OSError, ValueError):
        time.sleep(0.1)

json.dump({"applied": t_apply, "count": count, "events": events, "pods": list(pods.values())}, open(out, "w"), indent=1)


def pct(vals, q):
    if not vals:
        return float("nan")
    s = sorted(vals)
    # nearest-rank, as upstream's latency percentiles
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 1)) - 1))
    return s[k]


done = [p for p in pods.values() if p["running"] is not None]
print(f"pods seen: {len(pods)}, Running: {len(done)} of {count}; watch events: {events}")
if t_apply is None or len(done) < count:
    print("FAIL: not every pod was Running before the timeout")
    sys.exit(1)
last = max(p["running"] for p in done)
first_seen = min(p["seen"] for p in done)
sli = [p["running"] - p["created"] for p in done]
seen = [p["running"] - p["seen"] for p in done]
print(f"apply -> all {count} Running (watch): {last - t_apply:.2f} s   (apply -> first pod created: {first_seen - t_apply:.2f} s)")
print(f"per-pod startup, SLI (creationTimestamp -> Running observed): p50 {pct(sli, 0.5):.2f} s, p90 {pct(sli, 0.9):.2f} s, "
      f"p99 {pct(sli, 0.99):.2f} s, max {max(sli):.2f} s")
print(f"per-pod startup, from the watch's ADDED (ms resolution):      p50 {pct(seen, 0.5):.3f} s, p90 {pct(seen, 0.9):.3f} s, "
      f"p99 {pct(seen, 0.99):.3f} s, max {max(seen):.3f} s")
sched = [p["scheduled"] - p["seen"] for p in done if p.get("scheduled")]
status = [p["statusSeen"] - p["seen"] for p in done if p.get("statusSeen")]
if sched:
    print(f"  ADDED -> bound to the node (watch): p50 {pct(sched, 0.5):.3f} s, p99 {pct(sched, 0.99):.3f} s")
if status:
    print(f"  ADDED -> first status from the node (Pending): p50 {pct(status, 0.5):.3f} s, p99 {pct(status, 0.99):.3f} s")
ev = [p["events"] for p in done]
print(f"  watch events per pod until Running: median {pct(ev, 0.5)}, max {max(ev)}")
