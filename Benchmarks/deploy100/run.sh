#!/bin/bash
# deploy100: `swiftlet up` on a fresh data dir in a network namespace of its own, then
# `kubectl apply` of a Deployment of 100 busybox httpd replicas. Measures apply -> all Running
# (watched), per-pod startup latency (upstream's SLI), memory of the `up` process and of the
# shims with 100 pods, and what the node writes to the API server at steady state.
#   Benchmarks/deploy100/run.sh [REPLICAS [STEADY_SECONDS]]     (as root; defaults 100, 30)
#   SWIFTLET_ARGS="--cni-exec-own-plugins" adds flags to `swiftlet up` (here: our CNI plugins executed, not in process).
#   MODE=split Benchmarks/deploy100/run.sh   runs `swiftlet apiserver` and `swiftlet agent` as two
#   processes instead of `swiftlet up`, so the agent's own memory shows apart from the API server's.
# Needs: scripts/build-release.sh; kubectl, python3, curl, nsenter, busybox-static (/bin/busybox).
# Touches nothing of the host's network: everything runs in netns deploy100-PID (loopback and
# a veth pair with both ends inside), state in a mktemp dir, pods in cgroup /deploy100-PID; all
# removed at exit, also on failure. TIMELINE=FILE and KEEP_LOG=FILE: see README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=Benchmarks/deploy100
REPLICAS=${1:-100}
STEADY=${2:-30}
MODE=${MODE:-up}
BIN=${BIN:-$(scripts/build-release.sh --show-bin-path)}
for b in swiftlet swiftlet-shim swiftlet-bridge swiftlet-host-local swiftlet-loopback; do
  [[ -x $BIN/$b ]] || { echo "build first: scripts/build-release.sh ($b missing)"; exit 1; }
done
for t in kubectl python3 curl nsenter; do command -v $t >/dev/null || { echo "needs $t"; exit 1; }; done
[[ -x /bin/busybox ]] || { echo "needs busybox-static (/bin/busybox)"; exit 1; }

DIR=$(mktemp -d /tmp/deploy100.XXXXXX)
DATA=$DIR/data
RUNDIR=/run/swiftlet/$(echo "${DATA#/}" | tr / -)   # the agent's default run dir for this root
NS=deploy100-$$
CG=deploy100-$$
UP=""
APISERVER=""
WATCH=""

cgroup_dirs() { for d in /sys/fs/cgroup/$CG /sys/fs/cgroup/*/$CG; do [[ -d $d ]] && echo "$d"; done; return 0; }

cleanup() {
  set +e
  [[ -n $WATCH ]] && kill "$WATCH" 2>/dev/null
  for p in $UP $APISERVER; do
    kill "$p" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  # Shims and containers outlive the agent by design: end everything in the pods' cgroups.
  for d in $(cgroup_dirs); do
    [[ -f $d/cgroup.kill ]] && echo 1 >"$d/cgroup.kill"
  done
  for d in $(cgroup_dirs); do
    for _ in $(seq 50); do
      [[ -z $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null) ]] && break
      find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
      sleep 0.1
    done
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  # Rootfs overlays, volumes and pinned namespaces, deepest first.
  awk -v a="$DIR" -v b="$RUNDIR" '$5 ~ "^"a"/" || $5 ~ "^"b"/" || $5 == b {print $5}' /proc/self/mountinfo | sort -r |
    xargs -r -n1 umount -l 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  rm -rf "$DIR" "$RUNDIR"
  rmdir /run/swiftlet 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
# A node address on a NIC of the netns (a veth pair with both ends inside: nothing leaves it;
# this kernel has no dummy driver). With loopback alone the
# node IP would be 127.0.0.1, and the proxier's hairpin masquerade then drops every new
# 127.0.0.1 -> 127.0.0.1 connection (README: findings).
ip -n "$NS" link add eth0 type veth peer name eth0-peer
ip -n "$NS" addr add 10.250.0.2/24 dev eth0
ip -n "$NS" link set eth0-peer up
ip -n "$NS" link set eth0 up
IN=(nsenter --net=/run/netns/$NS)

echo "== deploy100: $REPLICAS replicas on swiftlet $MODE ($(git rev-parse --short HEAD 2>/dev/null || echo ?)), $(nproc) cores shared with other builds =="
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# The image: busybox-static with sh and httpd, imported before (no pull in the numbers).
cat >"$DIR/img.json" <<JSON
{"out": "$DIR/img", "name": "bench.local/busybox:1", "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
 "layers": [[{"path": "bin", "type": "dir", "mode": 493}, {"path": "tmp", "type": "dir", "mode": 1023},
             {"path": "www", "type": "dir", "mode": 493},
             {"path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 493},
             {"path": "bin/sh", "type": "symlink", "link": "busybox"},
             {"path": "bin/httpd", "type": "symlink", "link": "busybox"},
             {"path": "bin/sleep", "type": "symlink", "link": "busybox"}]]}
JSON
python3 Tests/ImagesTests/Fixtures/imagebuilder.py "$DIR/img.json" >/dev/null
"$BIN/swiftlet" image import --root-dir "$DATA" "$DIR/img/docker.tar" >/dev/null

t_start=$(date +%s.%N)
KC=$DATA/apiserver/admin.kubeconfig
k() { "${IN[@]}" kubectl --kubeconfig "$KC" --cache-dir "$DIR/kube-cache" --request-timeout=20s "$@"; }
if [[ $MODE == up ]]; then
  "${IN[@]}" "$BIN/swiftlet" up --data-dir "$DATA" --cgroup-root "/$CG" --node-name deploy100 ${SWIFTLET_ARGS:-} >"$DIR/up.log" 2>&1 &
  UP=$!
  for _ in $(seq 600); do [[ -s $KC ]] && break; kill -0 $UP 2>/dev/null || break; sleep 0.1; done
else
  # What `swiftlet up` does, as two processes (same paths: state under DATA, CNI config and logs too).
  "${IN[@]}" "$BIN/swiftlet" apiserver --data-dir "$DATA/apiserver" --bind-address 0.0.0.0 --tls-san 10.250.0.2 >"$DIR/apiserver.log" 2>&1 &
  APISERVER=$!
  for _ in $(seq 600); do [[ -s $KC ]] && break; kill -0 $APISERVER 2>/dev/null || break; sleep 0.1; done
  mkdir -p "$DATA/agent/pki/node"
  "$BIN/swiftlet" apiserver issue-node-kubeconfig --data-dir "$DATA/apiserver" --node-name deploy100 --server https://10.250.0.2:6443 \
    --out "$DATA/agent/pki/node/kubeconfig" >/dev/null
  "${IN[@]}" "${AGENT_BIN:-$BIN/swiftlet}" agent --root-dir "$DATA" --kubeconfig "$DATA/agent/pki/node/kubeconfig" --cgroup-root "/$CG" \
    --node-name deploy100 --node-ip 10.250.0.2 --cni-conf-dir "$DATA/cni/net.d" --pod-log-dir "$DATA/log/pods" --read-only-port 0 \
    >"$DIR/up.log" 2>&1 &
  UP=$!
fi
[[ -s $KC ]] || { tail -20 "$DIR/up.log" "$DIR/apiserver.log" 2>/dev/null; echo "FAIL: no admin kubeconfig"; exit 1; }
ready() { [[ $(k get node deploy100 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; }
for _ in $(seq 600); do ready && break; sleep 0.1; done
ready || { tail -20 "$DIR/up.log"; echo "FAIL: node not Ready"; exit 1; }
t_ready=$(date +%s.%N)
printf 'swiftlet up -> node Ready: %.2f s\n' "$(echo "$t_ready - $t_start" | bc)"

SERVER=$(k config view --raw -o jsonpath='{.clusters[0].cluster.server}')
TOKEN=$(k config view --raw -o jsonpath='{.users[0].user.token}')
CA=$DATA/apiserver/pki/ca.crt
metrics() { "${IN[@]}" curl -sf --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$SERVER/metrics" >"$1"; }

mem() {  # mem PID -> "rss_kib pss_kib uss_kib"
  awk '/^Rss:/{r=$2} /^Pss:/{p=$2} /^Private_(Clean|Dirty):/{u+=$2} END{print r+0, p+0, u+0}' "/proc/$1/smaps_rollup"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
read -r idle_rss idle_pss _ <<<"$(mem $UP)"

cat >"$DIR/deploy.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: deploy100}
spec:
  replicas: $REPLICAS
  selector: {matchLabels: {app: deploy100}}
  template:
    metadata: {labels: {app: deploy100}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: web, image: bench.local/busybox:1, command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]}]
YAML

metrics "$DIR/m0.txt"
"${IN[@]}" python3 $HERE/watch.py "$SERVER" "$TOKEN" "$CA" default app=deploy100 "$REPLICAS" "$DIR/t_apply" "$DIR/pods.json" 120 \
  >"$DIR/watch.out" 2>&1 &
WATCH=$!
for _ in $(seq 100); do grep -q watching "$DIR/watch.out" 2>/dev/null && break; sleep 0.05; done
grep -q watching "$DIR/watch.out" || { cat "$DIR/watch.out"; echo "FAIL: watch did not start"; exit 1; }
up_cpu0=$(cpu_ticks $UP)
[[ -n $APISERVER ]] && api_cpu0=$(cpu_ticks $APISERVER)
date +%s.%N >"$DIR/t_apply"
k apply -f "$DIR/deploy.yaml" >/dev/null
set +e
wait $WATCH
wstatus=$?
set -e
WATCH=""
grep -v '^watching' "$DIR/watch.out"
[[ $wstatus == 0 ]] || { tail -20 "$DIR/up.log"; exit 1; }
up_cpu1=$(cpu_ticks $UP)
metrics "$DIR/m1.txt"
echo "load average after the start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'CPU of the %s process from apply to all Running: %.2f s\n' "$([[ $MODE == up ]] && echo up || echo agent)" \
  "$(echo "($up_cpu1 - $up_cpu0) / $(getconf CLK_TCK)" | bc -l)"
if [[ -n $APISERVER ]]; then
  printf 'CPU of the apiserver process from apply to all Running: %.2f s\n' "$(echo "($(cpu_ticks $APISERVER) - $api_cpu0) / $(getconf CLK_TCK)" | bc -l)"
fi

# TIMELINE=FILE: every file the node wrote after the apply, by modification time (where a pod's time goes).
if [[ -n ${TIMELINE:-} ]]; then
  find "$DATA" "$RUNDIR" -newer "$DIR/t_apply" -printf '%T@ %p\n' 2>/dev/null | sort -n |
    awk -v t0="$(cat "$DIR/t_apply")" '{printf "%.3f %s\n", $1 - t0, $2}' >"$TIMELINE"
fi
# Memory with the pods Running, after a few seconds to settle.
sleep 5
read -r rss pss uss <<<"$(mem $UP)"
# SMAPS=FILE keeps the node process's full smaps (per-mapping detail for memory work).
[[ -n ${SMAPS:-} ]] && cp "/proc/$UP/smaps" "$SMAPS"
# HOLD=SECONDS keeps everything running that long for inspection (the node process id is printed).
if [[ -n ${HOLD:-} ]]; then echo "holding ${HOLD} s; node process $UP"; sleep "$HOLD"; fi
# Where the RSS is: anonymous memory (heap, stacks) against each mapped file (shared libraries).
awk '/^[0-9a-f]+-[0-9a-f]+ / {name = (NF >= 6 ? $6 : "[anon]"); sub(/.*\//, "", name)}
     /^Rss:/ {rss[name] += $2} /^Pss:/ {pss[name] += $2}
     END {for (n in rss) if (rss[n] >= 1024) printf "%s %.1f/%.1f\n", n, rss[n]/1024, pss[n]/1024}' "/proc/$UP/smaps" |
  sort -k2 -t' ' -rn | head -8 | paste -sd' ' | sed "s/^/  $([[ $MODE == up ]] && echo up || echo agent) RSS\/PSS MiB by mapping: /"
if [[ -n $APISERVER ]]; then
  read -r ar ap _ <<<"$(mem $APISERVER)"
  printf 'apiserver process: RSS %.1f MiB, PSS %.1f MiB\n' "$(echo "$ar/1024" | bc -l)" "$(echo "$ap/1024" | bc -l)"
fi
shims=0; srss=0; spss=0; suss=0
for d in $(cgroup_dirs); do
  for pid in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do
    [[ $(cat /proc/$pid/comm 2>/dev/null) == swiftlet-shim ]] || continue
    read -r r p u <<<"$(mem $pid)"
    shims=$((shims + 1)); srss=$((srss + r)); spss=$((spss + p)); suss=$((suss + u))
  done
done
what=$([[ $MODE == up ]] && echo "up process (API server + agent)" || echo "agent process")
printf '%s with %d pods: RSS %.1f MiB, PSS %.1f MiB, USS %.1f MiB (idle before apply: RSS %.1f MiB, PSS %.1f MiB)\n' \
  "$what" "$REPLICAS" "$(echo "$rss/1024" | bc -l)" "$(echo "$pss/1024" | bc -l)" "$(echo "$uss/1024" | bc -l)" \
  "$(echo "$idle_rss/1024" | bc -l)" "$(echo "$idle_pss/1024" | bc -l)"
printf 'shims: %d, total RSS %.1f MiB, PSS %.1f MiB, USS %.1f MiB (USS per shim %.0f KiB)\n' "$shims" \
  "$(echo "$srss/1024" | bc -l)" "$(echo "$spss/1024" | bc -l)" "$(echo "$suss/1024" | bc -l)" "$(echo "$suss/($shims+($shims==0))" | bc -l)"

# Steady state: what is written to the API server over STEADY seconds, by whom.
metrics "$DIR/m2.txt"
cpu_a=$(cpu_ticks $UP)
sleep "$STEADY"
cpu_b=$(cpu_ticks $UP)
metrics "$DIR/m3.txt"
python3 - "$DIR" "$STEADY" <<'PY'
import re, sys
d, steady = sys.argv[1], float(sys.argv[2])
pat = re.compile(r'^swiftlet_apiserver_mutating_requests_total\{resource="([^"]*)",subresource="([^"]*)",user="([^"]*)",verb="([^"]*)"\} (\d+)$')
def load(n):
    out = {}
    for line in open(f"{d}/{n}"):
        m = pat.match(line.strip())
        if m: out[m.groups()[:4]] = int(m.group(5))
    return out
def diff(a, b):
    x, y = load(a), load(b)
    return {k: y[k] - x.get(k, 0) for k in y if y[k] - x.get(k, 0) > 0}
def show(title, dd):
    print(title)
    if not dd: print("   (none)")
    for (res, sub, user, verb), n in sorted(dd.items(), key=lambda kv: (kv[0][2], -kv[1])):
        print(f"   {user:32} {verb:6} {res + ('/' + sub if sub else ''):24} {n}")
show("API writes from apply to all Running, by user:", diff("m0.txt", "m1.txt"))
steady_d = diff("m2.txt", "m3.txt")
show(f"API writes at steady state over {steady:.0f} s, by user:", steady_d)
node = {k: v for k, v in steady_d.items() if k[2].startswith("system:node:")}
lease = sum(v for k, v in node.items() if k[0] == "leases")
other = sum(v for k, v in node.items() if k[0] != "leases")
print(f"node writes at steady state: {lease / steady * 10:.2f} Lease writes per 10 s, {other} other writes in {steady:.0f} s")
PY
printf 'CPU of the %s process at steady state: %.1f%% of one core\n' "$([[ $MODE == up ]] && echo up || echo agent)" "$(echo "100 * ($cpu_b - $cpu_a) / $(getconf CLK_TCK) / $STEADY" | bc -l)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n ${KEEP_LOG:-} ]]; then cp "$DIR/up.log" "$KEEP_LOG"; cp "$DIR/pods.json" "${KEEP_LOG%.log}.pods.json"; fi
