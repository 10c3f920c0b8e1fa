import Foundation
import Testing

@testable import APIServer

func pythonHasKubernetesClient() -> Bool {
    (try? Command.runBlocking(["python3", "-c", "import kubernetes"]).ok) ?? false
}

let pythonListWatch = #"""
import sys, threading, time
from kubernetes import client, config, watch
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
pods = v1.list_namespaced_pod("default")
print("LIST", len(pods.items), flush=True)
rv = pods.metadata.resource_version
def churn():
    time.sleep(1)
    v1.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "py-pod", "labels": {"from": "python"}},
                                         "spec": {"containers": [{"name": "c", "image": "example.local/x:1"}]}})
    time.sleep(0.5)
    v1.patch_namespaced_pod("py-pod", "default", {"metadata": {"labels": {"step": "two"}}})
    time.sleep(0.5)
    v1.delete_namespaced_pod("py-pod", "default")
threading.Thread(target=churn, daemon=True).start()
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=20, allow_watch_bookmarks=True):
    o = ev["object"]
    print("EVENT", ev["type"], o.metadata.name, o.metadata.labels.get("step", "-"), o.spec.containers[0].image, flush=True)
    if ev["type"] == "DELETED":
        w.stop()
pods = v1.list_namespaced_pod("default", label_selector="from=python")
print("AFTER", len(pods.items), flush=True)
"""#

/// Acknowledged creates, each appended to a file only after the server answered 201.
let pythonWriter = #"""
import sys, threading, requests
url, token, ca, out, prefix = sys.argv[1:6]
lock = threading.Lock()
f = open(out, "a", buffering=1)
def worker(n):
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + token
    i = 0
    while True:
        name = "%s-%d-%d" % (prefix, n, i)
        try:
            r = s.post(url + "/api/v1/namespaces/default/configmaps", verify=ca, timeout=5,
                       json={"metadata": {"name": name}, "data": {"k": "v" * 200}})
        except Exception:
            return
        if r.status_code == 201:
            with lock:
                f.write(name + "\n")
                f.flush()
        i += 1
ts = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
for t in ts: t.start()
for t in ts: t.join()
"""#

@Suite(.serialized)
struct ClientsSlowTests {
    @Test(.enabled(if: pythonHasKubernetesClient(), "needs the Python client: pip install kubernetes"))
    func officialPythonClientListsAndWatchesPods() async throws {
        try await withAPIServer { ep, dir in
            let script = dir + "/listwatch.py"
            try pythonListWatch.write(toFile: script, atomically: true, encoding: .utf8)
            let r = try await Command.run(["python3", script, ep.adminKubeconfigPath], timeout: 60)
            #expect(r.ok, "\(r.stderr)")
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "LIST 0")
            #expect(lines.contains("EVENT ADDED py-pod - example.local/x:1"))
            #expect(lines.contains("EVENT MODIFIED py-pod two example.local/x:1"))
            #expect(lines.contains { $0.hasPrefix("EVENT DELETED py-pod") })
            #expect(lines.last == "AFTER 0")
        }
    }

    /// The server binary next to the test bundle (swift build puts products in one folder).
    static var serverBinary: String? {
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bin, bin.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("swiftlet").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    @Test(.enabled(if: serverBinary != nil && (try? Command.runBlocking(["python3", "-c", "import requests"]).ok) == true,
                   "needs the swiftlet binary (swift build) and python3 requests"))
    func killNineDuringWriteBurstLosesNoAcknowledgedObject() async throws {
        guard let binary = Self.serverBinary else { return }
        let dir = try TempDir()
        let data = dir.path + "/data"
        func start() throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["apiserver", "--data-dir", data, "--secure-port", "0"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        func endpoint(after: Date) async -> (url: String, token: String)? {
            let ok = await eventually(30) {
                guard let attrs = try? FileManager.default.attributesOfItem(atPath: data + "/admin.kubeconfig"),
                      let m = attrs[.modificationDate] as? Date, m >= after.addingTimeInterval(-1) else { return false }
                return true
            }
            guard ok, let kc = try? String(contentsOfFile: data + "/admin.kubeconfig", encoding: .utf8),
                  let token = try? String(contentsOfFile: data + "/admin-token", encoding: .utf8) else { return nil }
            let url = kc.split(separator: "\n").first { $0.contains("server:") }.map { $0.split(separator: " ").last.map(String.init) ?? "" } ?? ""
            return (url, token.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let first = try start()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        guard let ep = await endpoint(after: Date(timeIntervalSince1970: 0)) else {
            Issue.record("server did not start")
            return
        }
        let acks = dir.path + "/acked.txt"
        let writer = dir.path + "/writer.py"
        try pythonWriter.write(toFile: writer, atomically: true, encoding: .utf8)
        async let burst = Command.run(["python3", writer, ep.url, ep.token, data + "/pki/ca.crt", acks, "burst"], timeout: 120)
        // Let the burst get going, then kill the server without warning.
        let going = await eventually(60) {
            ((try? String(contentsOfFile: acks, encoding: .utf8))?.split(separator: "\n").count ?? 0) >= 400
        }
        #expect(going)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        _ = try await burst
        let acked = Set((try String(contentsOfFile: acks, encoding: .utf8)).split(separator: "\n").map(String.init))
        #expect(acked.count >= 400)

        // The restarted server writes a new kubeconfig (its port differs): wait for that one.
        try? FileManager.default.removeItem(atPath: data + "/admin.kubeconfig")
        let restartedAt = Date()
        let second = try start()
        defer { if second.isRunning { kill(second.processIdentifier, SIGKILL); second.waitUntilExit() } }
        guard let ep2 = await endpoint(after: restartedAt) else {
            Issue.record("server did not restart")
            return
        }
        let list = try await Command.run(["curl", "-s", "--cacert", data + "/pki/ca.crt", "-H", "Authorization: Bearer \(ep2.token)",
                                          ep2.url + "/api/v1/namespaces/default/configmaps"])
        let stored = Set((try JSON.parse(list.stdout))["items"]?.array?.map(\.name) ?? [])
        let lost = acked.subtracting(stored)
        #expect(lost.isEmpty, "acknowledged but lost after kill -9: \(lost.sorted().prefix(10))")
    }
}
