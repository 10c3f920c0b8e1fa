import Foundation
import Testing

/// `swiftlet up` end to end with the real kubectl: a node that registers and stays Ready, a
/// Deployment behind a Service, logs, scaling, ConfigMap volumes that follow updates, probes
/// that restart and unready pods that leave the EndpointSlice, and a restart of the agent that
/// restarts no container.
@Suite(.serialized, .enabled(if: AgentHarness.canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"),
                             "needs root, /bin/busybox and kubectl"))
struct APIModeSlowRootTests {
    @Test func deploymentServiceLogsScaleAndRestart() async throws {
        let h = try AgentHarness()
        do {
            try h.startUp()
            #expect(await h.eventually(60) { h.kubectl(["get", "nodes", "--no-headers"])?.contains(" Ready ") == true })
            try """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 3
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers: [{name: web, image: test.local/busybox:1, command: ["/bin/sh", "-c", "mkdir -p /w; hostname > /w/index.html; echo started; exec httpd -f -p 8080 -h /w"]}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
            """.write(toFile: h.base + "/app.yaml", atomically: true, encoding: .utf8)
            #expect(h.kubectl(["apply", "-f", h.base + "/app.yaml"]) != nil)
            #expect(await h.eventually(60) {
                (h.kubectl(["get", "pods", "-l", "app=web", "--no-headers"]) ?? "").split(separator: "\n").filter { $0.contains(" Running ") }.count == 3
            })
            let ips = (h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}"]) ?? "").split(separator: " ")
            #expect(Set(ips).count == 3)
            let clusterIP = h.kubectl(["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]) ?? ""
            // The proxy programs the Service once its EndpointSlice arrives (a sync, rate-limited):
            // wait for the first answer, then count the distinct pods behind it.
            let answered = await h.eventually(30) {
                (try? h.run(h.inNetns[0], [h.inNetns[1], "/usr/bin/curl", "-s", "--max-time", "2", "http://\(clusterIP)/"])) != nil
            }
            if !answered {
                let rules = (try? h.run(h.inNetns[0], [h.inNetns[1], "/usr/sbin/nft", "list", "ruleset"])) ?? "?"
                let slices = h.kubectl(["get", "endpointslices", "-o", "wide"]) ?? "?"
                let podIP = ips.first.map(String.init) ?? ""
                let curl = (try? h.run(h.inNetns[0], [h.inNetns[1], "/bin/sh", "-c",
                    "curl -sS --max-time 2 http://\(clusterIP)/ 2>&1; echo rc=$?; curl -sS --max-time 2 http://\(podIP):8080/ 2>&1; echo rc=$?; ip -br addr; ip route; ip -br link"])) ?? "?"
                let log = ((try? String(contentsOfFile: h.agentLog, encoding: .utf8)) ?? "").split(separator: "\n").suffix(30).joined(separator: "\n")
                Issue.record("ClusterIP \(clusterIP) never answered: \(curl)\n\(slices)\n\(rules)\n\(log)")
            }
            var seen = Set<String>()
            for _ in 0..<30 {
                if let body = try? h.run(h.inNetns[0], [h.inNetns[1], "/usr/bin/curl", "-s", "--max-time", "2", "http://\(clusterIP)/"]) {
                    seen.insert(body.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
            #expect(seen.count == 3, "ClusterIP \(clusterIP) reached \(seen)")
            let pod = h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}"]) ?? ""
            #expect(h.kubectl(["logs", pod])?.contains("started") == true)
            let before = h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].containerID}"])

            // The agent restarts (kill -9): the node stays Ready, no container restarts.
            h.killAgent()
            try h.startUp()
            #expect(await h.eventually(60) { h.kubectl(["get", "nodes", "--no-headers"])?.contains(" Ready ") == true })
            try await Task.sleep(nanoseconds: 3_000_000_000)
            #expect(h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].containerID}"]) == before)
            #expect(h.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.containerStatuses[0].restartCount}"]) == "0 0 0")

            #expect(h.kubectl(["scale", "deployment", "web", "--replicas=1"]) != nil)
            #expect(await h.eventually(60) {
                (h.kubectl(["get", "pods", "-l", "app=web", "--no-headers"]) ?? "x\nx").split(separator: "\n").count == 1
            })
            #expect(h.kubectl(["delete", "-f", h.base + "/app.yaml"]) != nil)
            #expect(await h.eventually(60) { h.noPods() })
        } catch {
            Issue.record(error)
        }
        await h.tearDown()
    }

    @Test func configMapVolumesProbesAndEndpoints() async throws {
        let h = try AgentHarness()
        do {
            try h.startUp()
            #expect(await h.eventually(60) { h.kubectl(["get", "nodes", "--no-headers"])?.contains(" Ready ") == true })
            try """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: cfg}
            data: {greeting: hello}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: cm, labels: {app: gate}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: c
                image: test.local/busybox:1
                command: ["sh", "-c", "while true; do sleep 0.2; done"]
                env: [{name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}]
                volumeMounts: [{name: cfg, mountPath: /cfg}]
                readinessProbe: {exec: {command: ["cat", "/tmp/ready"]}, periodSeconds: 1}
              - name: live
                image: test.local/busybox:1
                command: ["sh", "-c", "touch /tmp/alive; while true; do sleep 0.2; done"]
                livenessProbe: {exec: {command: ["sh", "-c", "test -f /tmp/alive && rm /tmp/alive"]}, periodSeconds: 1, failureThreshold: 2}
              volumes: [{name: cfg, configMap: {name: cfg}}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: gate}
            spec: {selector: {app: gate}, ports: [{port: 80}]}
            """.write(toFile: h.base + "/cm.yaml", atomically: true, encoding: .utf8)
            #expect(h.kubectl(["apply", "-f", h.base + "/cm.yaml"]) != nil)
            #expect(await h.eventually(60) { h.kubectl(["get", "pod", "cm", "-o", "jsonpath={.status.phase}"]) == "Running" })
            let cid = (h.kubectl(["get", "pod", "cm", "-o", "jsonpath={.status.containerStatuses[?(@.name==\"c\")].containerID}"]) ?? "")
                .replacingOccurrences(of: "swiftlet://", with: "")
            #expect(!cid.isEmpty)
            @Sendable func inPod(_ cmd: [String]) -> String? {
                try? h.run(AgentHarness.buildDir + "/swiftlet", ["exec", "--root-dir", h.root, "default/cm", "-c", "c", "--"] + cmd)
            }
            #expect(inPod(["cat", "/cfg/greeting"]) == "hello")
            #expect(inPod(["sh", "-c", "echo $GREETING"]) == "hello\n")
            // Not ready: no ready endpoint in the slice.
            @Sendable func readyEndpoints() -> String {
                h.kubectl(["get", "endpointslices", "-l", "kubernetes.io/service-name=gate", "-o",
                           "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}"]) ?? "?"
            }
            #expect(await h.eventually(10) { readyEndpoints().isEmpty })
            _ = inPod(["touch", "/tmp/ready"])
            #expect(await h.eventually(20) { !readyEndpoints().isEmpty })
            _ = inPod(["rm", "/tmp/ready"])
            #expect(await h.eventually(20) { readyEndpoints().isEmpty })
            // A ConfigMap change reaches the mounted volume.
            #expect(h.kubectl(["patch", "configmap", "cfg", "--type", "merge", "-p", "{\"data\":{\"greeting\":\"changed\"}}"]) != nil)
            #expect(await h.eventually(40) { inPod(["cat", "/cfg/greeting"]) == "changed" })
            // The failing liveness probe restarted the other container.
            #expect(await h.eventually(40) {
                Int(h.kubectl(["get", "pod", "cm", "-o", "jsonpath={.status.containerStatuses[?(@.name==\"live\")].restartCount}"]) ?? "0") ?? 0 >= 1
            })
            #expect(h.kubectl(["delete", "-f", h.base + "/cm.yaml"]) != nil)
            #expect(await h.eventually(60) { h.noPods() })
        } catch {
            Issue.record(error)
        }
        await h.tearDown()
    }
}

extension AgentHarness {
    /// kubectl says so on stderr (which the harness merges into the output) when nothing is left.
    func noPods() -> Bool {
        guard let out = kubectl(["get", "pods", "--no-headers"]) else { return false }
        return out.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || out.contains("No resources found")
    }
}
