import Foundation
import Glibc
import Testing

/// `kubectl port-forward` through the API server to a pod on a `swiftlet up` node: kubectl
/// 1.32 tries the WebSocket tunnel first and falls back to SPDY/3.1, which the kubelet port
/// serves; HTTP through the local port reaches busybox httpd in the pod.
@Suite(.serialized, .enabled(if: AgentHarness.canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"),
                             "needs root, /bin/busybox and kubectl"))
struct PortForwardSlowRootTests {
    @Test func portForwardReachesHTTPDInThePod() async throws {
        let h = try AgentHarness()
        var forwarder: Process?
        do {
            try h.startUp()
            #expect(await h.eventually(60) { h.kubectl(["get", "nodes", "--no-headers"])?.contains(" Ready ") == true })
            let marker = "pf-page-\(UInt32.random(in: 0...UInt32.max))"
            try """
            apiVersion: v1
            kind: Pod
            metadata: {name: pf}
            spec:
              terminationGracePeriodSeconds: 1
              containers: [{name: web, image: test.local/busybox:1, command: ["/bin/sh", "-c", "mkdir -p /w; echo \(marker) > /w/index.html; exec httpd -f -p 8080 -h /w"]}]
            """.write(toFile: h.base + "/pf.yaml", atomically: true, encoding: .utf8)
            #expect(h.kubectl(["apply", "-f", h.base + "/pf.yaml"]) != nil)
            #expect(await h.eventually(60) { h.kubectl(["get", "pod", "pf", "-o", "jsonpath={.status.phase}"]) == "Running" })

            let local = AgentHarness.freePort()
            let log = h.base + "/port-forward.log"
            forwarder = try h.background(["/usr/bin/kubectl", "--kubeconfig", h.kubeconfig, "-v=6", "port-forward", "pod/pf", "\(local):8080"], log: log)
            @Sendable func fetch() -> String? {
                try? h.run(h.inNetns[0], [h.inNetns[1], "/usr/bin/curl", "-sf", "--max-time", "5", "http://127.0.0.1:\(local)/"])
            }
            // Poll: kubectl listens once the API server has been asked.
            let first = await h.eventually(30) { fetch()?.contains(marker) == true }
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(first, "port-forward output:\n\(output)")
            #expect(output.contains("Forwarding from 127.0.0.1:\(local) -> 8080"))
            // Which transport kubectl ended up with (its -v=6 log names the fallback).
            for line in output.split(separator: "\n") where line.lowercased().contains("fallback") || line.contains("101 Switching") {
                print("kubectl: \(line)")
            }
            // Each GET is its own forwarded connection (new stream pair); several in a row work.
            var answers = 0
            for _ in 0..<5 where fetch()?.trimmingCharacters(in: .whitespacesAndNewlines) == marker { answers += 1 }
            #expect(answers == 5)
            #expect(forwarder?.isRunning == true)
            // A port nobody listens on in the pod: the forwarded connection closes and kubectl
            // prints the kubelet's message from the error stream.
            let closedLocal = AgentHarness.freePort()
            let closedLog = h.base + "/port-forward-closed.log"
            let closedForwarder = try h.background(["/usr/bin/kubectl", "--kubeconfig", h.kubeconfig, "port-forward", "pod/pf", "\(closedLocal):9"],
                                                   log: closedLog)
            defer {
                kill(closedForwarder.processIdentifier, SIGKILL)
                closedForwarder.waitUntilExit()
            }
            let reported = await h.eventually(30) {
                _ = try? h.run(h.inNetns[0], [h.inNetns[1], "/usr/bin/curl", "-s", "--max-time", "3", "http://127.0.0.1:\(closedLocal)/"])
                return ((try? String(contentsOfFile: closedLog, encoding: .utf8)) ?? "").contains("error forwarding port 9 to pod sandbox")
            }
            #expect(reported, "kubectl said:\n\((try? String(contentsOfFile: closedLog, encoding: .utf8)) ?? "")")
        } catch {
            Issue.record(error)
        }
        if let forwarder, forwarder.isRunning {
            kill(forwarder.processIdentifier, SIGKILL)
            forwarder.waitUntilExit()
        }
        _ = h.kubectl(["delete", "pod", "pf", "--wait=false"])
        _ = await h.eventually(30) { h.noPods() }
        await h.tearDown()
    }
}
