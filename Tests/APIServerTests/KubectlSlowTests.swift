import Foundation
import Testing

@testable import APIServer

let appManifest = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replicas: 3
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: web, image: example.local/web:1, ports: [{containerPort: 8080, name: http}]}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cfg}
    data: {a: "1"}
    """

func nodeManifest(_ name: String) -> String {
    let now = Timestamp.now()
    return """
        apiVersion: v1
        kind: Node
        metadata: {name: \(name), labels: {kubernetes.io/hostname: \(name)}}
        status:
          capacity: {cpu: "8", memory: 16Gi, pods: "110"}
          allocatable: {cpu: "8", memory: 16Gi, pods: "110"}
          addresses: [{type: InternalIP, address: 127.0.0.1}]
          conditions: [{type: Ready, status: "True", reason: KubeletReady, lastHeartbeatTime: "\(now)", lastTransitionTime: "\(now)"}]
        """
}

/// Plays the kubelet's part for pods bound to fake nodes: Running, Ready, with an IP.
func markPodsRunning(_ k: Kubectl, selector: String) async throws {
    let pods = try await k.json("get", "pods", "-l", selector)
    for (i, p) in (pods["items"]?.array ?? []).enumerated() {
        guard p["spec"]?["nodeName"]?.string != nil, p.deletionTimestamp == nil, p["status"]?["phase"]?.string != "Running" else { continue }
        let now = Timestamp.now()
        let patch = JSON.obj([
            "status": .obj([
                "phase": "Running", "podIP": .string("10.244.0.\(i + 10)"), "podIPs": [.obj(["ip": .string("10.244.0.\(i + 10)")])],
                "conditions": [.obj(["type": "Ready", "status": "True", "lastTransitionTime": .string(now)])],
                "containerStatuses": [.obj(["name": "web", "ready": true, "restartCount": 0, "image": "example.local/web:1", "imageID": "",
                                            "started": true, "state": .obj(["running": .obj(["startedAt": .string(now)])])])],
            ]),
        ])
        try await k("patch", "pod", p.name, "--subresource=status", "--type=strategic", "-p", patch.text)
    }
}

@Suite(.serialized, .enabled(if: commandExists("kubectl"), "needs kubectl"))
struct KubectlSlowTests {
    @Test func applyScheduleScaleRolloutDescribeDelete() async throws {
        try await withAPIServer { ep, dir in
            let k = Kubectl(ep, dir: dir)
            let applied = try await k("apply", "-f", "-", stdin: appManifest)
            #expect(applied.ok, "\(applied.stderr)")
            #expect(applied.stdout.contains("deployment.apps/web created"))
            #expect(applied.stdout.contains("service/web created"))

            // No node yet: three pods stay Pending with the scheduler's event.
            #expect(try await eventually { (try await k.json("get", "pods", "-l", "app=web")["items"]?.array?.count ?? 0) == 3 })
            let table = try await k("get", "pods", "-l", "app=web")
            #expect(table.stdout.hasPrefix("NAME"))
            #expect(table.stdout.contains("READY   STATUS    RESTARTS   AGE"))
            #expect(table.stdout.components(separatedBy: "Pending").count - 1 == 3)
            #expect(try await eventually {
                let ev = try await k.json("get", "events", "--field-selector", "reason=FailedScheduling")
                return (ev["items"]?.array ?? []).contains { $0["message"]?.string == "no nodes available to schedule pods" }
            })
            let svc = try await k.json("get", "svc", "web")
            #expect(svc["spec"]?["clusterIP"]?.string?.hasPrefix("10.") == true)
            let yaml = try await k("get", "deployment", "web", "-o", "yaml")
            #expect(yaml.stdout.contains("kind: Deployment"))
            #expect(yaml.stdout.contains("maxSurge: 25%"))

            // A Ready node appears: every pod is bound to it.
            #expect(try await k("create", "-f", "-", stdin: nodeManifest("node-a")).ok)
            #expect(try await eventually {
                let pods = try await k.json("get", "pods", "-l", "app=web")["items"]?.array ?? []
                return pods.count == 3 && pods.allSatisfy { $0["spec"]?["nodeName"]?.string == "node-a" }
            })
            try await markPodsRunning(k, selector: "app=web")
            let rollout = try await k("rollout", "status", "deployment/web", "--timeout=30s", timeout: 40)
            #expect(rollout.ok, "\(rollout.stdout) \(rollout.stderr)")
            #expect(rollout.stdout.contains("successfully rolled out"))
            // The EndpointSlice controller publishes the ready pods on the named target port.
            #expect(try await eventually {
                let slices = try await k.json("get", "endpointslices", "-l", "kubernetes.io/service-name=web")["items"]?.array ?? []
                let eps = slices.flatMap { $0["endpoints"]?.array ?? [] }
                return eps.count == 3 && eps.allSatisfy { $0["conditions"]?["ready"]?.bool == true }
                    && slices.first?["ports"]?.array?.first?["port"]?.int == 8080
            })

            #expect(try await k("scale", "deployment", "web", "--replicas=5").ok)
            #expect(try await eventually { (try await k.json("get", "pods", "-l", "app=web")["items"]?.array?.count ?? 0) == 5 })

            // A new template rolls out through a second ReplicaSet.
            let updated = appManifest.replacingOccurrences(of: "example.local/web:1", with: "example.local/web:2")
                .replacingOccurrences(of: "replicas: 3", with: "replicas: 5")
            let reapplied = try await k("apply", "-f", "-", stdin: updated)
            #expect(reapplied.stdout.contains("deployment.apps/web configured"), "\(reapplied.stderr)")
            let done = try await eventually(60) {
                try await markPodsRunning(k, selector: "app=web")
                let d = try await k.json("get", "deployment", "web")
                let s = d["status"] ?? .null
                return s["updatedReplicas"]?.int == 5 && s["replicas"]?.int == 5 && s["availableReplicas"]?.int == 5
                    && s["observedGeneration"]?.int == d.generation
            }
            #expect(done)
            let rs = try await k.json("get", "rs", "-l", "app=web")["items"]?.array ?? []
            #expect(rs.count == 2)
            #expect(rs.contains { $0["spec"]?["replicas"]?.int == 0 })
            let images = try await k.json("get", "pods", "-l", "app=web")["items"]?.array?.compactMap {
                $0.deletionTimestamp == nil ? $0["spec"]?["containers"]?.array?.first?["image"]?.string : nil
            }
            #expect(images?.allSatisfy { $0 == "example.local/web:2" } == true)

            let describe = try await k("describe", "deployment", "web")
            #expect(describe.stdout.contains("Replicas:               5 desired | 5 updated"))
            #expect(describe.stdout.contains("ScalingReplicaSet"))

            let explain = try await k("explain", "pod.spec.containers")
            #expect(explain.ok, "\(explain.stderr)")
            #expect(explain.stdout.contains("FIELD: containers <[]Container>"))
            #expect(explain.stdout.contains("imagePullPolicy"))

            #expect(try await k("delete", "deployment", "web").ok)
            #expect(try await eventually {
                let pods = try await k.json("get", "pods", "-l", "app=web")["items"]?.array ?? []
                let rs = try await k.json("get", "rs")["items"]?.array ?? []
                return pods.allSatisfy { $0.deletionTimestamp != nil } && rs.isEmpty
            })
        }
    }

    @Test func getWatchStreamsChanges() async throws {
        try await withAPIServer { ep, dir in
            let k = Kubectl(ep, dir: dir)
            try await k("create", "configmap", "before", "--from-literal=a=1")
            async let watched = Command.run(["kubectl", "--kubeconfig", ep.adminKubeconfigPath, "--cache-dir", dir + "/c2", "get", "configmaps",
                                             "-w", "--output-watch-events"], timeout: 8)
            try await Task.sleep(for: .seconds(3))
            try await k("create", "configmap", "during", "--from-literal=a=1")
            try await k("patch", "configmap", "during", "--type=merge", "-p", #"{"data":{"a":"2"}}"#)
            try await k("delete", "configmap", "during")
            let out = try await watched.stdout
            let lines = out.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix("ADDED") && $0.contains("before") })
            #expect(lines.contains { $0.hasPrefix("ADDED") && $0.contains("during") })
            #expect(lines.contains { $0.hasPrefix("MODIFIED") && $0.contains("during") })
            #expect(lines.contains { $0.hasPrefix("DELETED") && $0.contains("during") })
        }
    }

    @Test func errorsAsUpstream() async throws {
        try await withAPIServer({ $0.watchWindowEvents = 5 }) { ep, dir in
            let k = Kubectl(ep, dir: dir)
            // 422 with field causes.
            let bad = try await k("run", "Bad_Name", "--image=x")
            #expect(!bad.ok)
            #expect(bad.stderr.contains("is invalid"))
            #expect(bad.stderr.contains("metadata.name: Invalid value: \"Bad_Name\""))
            // 409 on a stale update.
            try await k("create", "configmap", "cfg", "--from-literal=a=1")
            var stale = try await k.json("get", "cm", "cfg")
            try await k("patch", "cm", "cfg", "--type=merge", "-p", #"{"data":{"a":"2"}}"#)
            stale["data"] = .obj(["a": "3"])
            let conflict = try await k("replace", "-f", "-", stdin: stale.text)
            #expect(!conflict.ok)
            #expect(conflict.stderr.contains("Conflict") && conflict.stderr.contains("the object has been modified"))
            // 401 without credentials.
            let anon = try await Command.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", ep.url + "/api/v1/namespaces/default/pods"])
            #expect(anon.stdout == "401")
            let wrong = try await Command.run(["curl", "-sk", "-H", "Authorization: Bearer nope", ep.url + "/api/v1/pods"])
            #expect(wrong.stdout.contains("\"code\":401"))
            // 410 on a watch from a compacted resourceVersion (the window holds 5 events).
            for i in 0..<8 { try await k("create", "configmap", "c\(i)") }
            let old = try await Command.run(["curl", "-sk", "-m", "5", "-H", "Authorization: Bearer \(ep.adminToken)",
                                             ep.url + "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1"])
            let event = try JSON.parse(old.stdout.split(separator: "\n").first.map(String.init) ?? "")
            #expect(event["type"]?.string == "ERROR")
            #expect(event["object"]?["code"]?.int == 410)
            #expect(event["object"]?["reason"]?.string == "Expired")
        }
    }

    @Test func nodeIdentityIsConfinedToItsOwnObjects() async throws {
        try await withAPIServer { ep, dir in
            let admin = Kubectl(ep, dir: dir)
            #expect(try await admin("create", "-f", "-", stdin: nodeManifest("node-a")).ok)
            #expect(try await admin("create", "-f", "-", stdin: nodeManifest("node-b")).ok)
            let kc = dir + "/node-a.kubeconfig"
            try DataDirectory(dir).issueNodeKubeconfig(nodeName: "node-a", server: ep.url, out: kc)
            let node = Kubectl(kubeconfig: kc, dir: dir + "/n")
            let own = try await node("label", "node", "node-a", "role=self")
            #expect(own.ok, "\(own.stderr)")
            let other = try await node("label", "node", "node-b", "role=other")
            #expect(!other.ok)
            #expect(other.stderr.contains("Forbidden"))
            #expect(other.stderr.contains("system:node:node-a"))
            let lease = try await node("create", "-n", "kube-node-lease", "-f", "-", stdin: """
                apiVersion: coordination.k8s.io/v1
                kind: Lease
                metadata: {name: node-b}
                spec: {holderIdentity: node-b}
                """)
            #expect(!lease.ok && lease.stderr.contains("Forbidden"))
            let secret = try await node("get", "secret", "-n", "default", "anything")
            #expect(!secret.ok && secret.stderr.contains("Forbidden"))
        }
    }
}
