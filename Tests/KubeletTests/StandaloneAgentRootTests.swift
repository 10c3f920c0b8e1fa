import Foundation
import Glibc
import Testing

/// The standalone agent end to end: the real binary, a real image, real pods.
@Suite(.serialized, .enabled(if: AgentHarness.canRun, "needs root and /bin/busybox (busybox-static)"))
struct StandaloneAgentRootTests {
    @Test func staticPodSurvivesAgentKillAndTearsDownClean() async throws {
        let h = try AgentHarness()
        do {
            try h.startAgent()
            try h.writeManifest("web.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: web, namespace: e2e}
            spec:
              terminationGracePeriodSeconds: 2
              containers:
              - {name: a, image: test.local/busybox:1, command: ["sh", "-c", "echo one > /v/f; exec sleep 4001"], volumeMounts: [{name: v, mountPath: /v}]}
              - {name: b, image: test.local/busybox:1, command: ["sh", "-c", "while [ ! -f /v/f ]; do sleep 0.1; done; cat /v/f; exec sleep 4002"], volumeMounts: [{name: v, mountPath: /v}]}
              volumes: [{name: v, emptyDir: {}}]
            """)
            #expect(await h.eventually(20) { h.phase("web") == "Running" && h.containerStatuses(h.pod("web") ?? [:]).values.allSatisfy { ($0["state"] as? [String: Any])?["running"] != nil } })
            let before = h.containerStatuses(h.pod("web") ?? [:]).mapValues { $0["containerID"] as? String ?? "" }
            #expect(before.count == 2)
            let logs = String(decoding: h.get("/containerLogs/e2e/web/b") ?? Data(), as: UTF8.self)
            #expect(logs == "one\n")
            let pod = h.pod("web") ?? [:]
            let conditions = ((pod["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
                $0[$1["type"] as? String ?? ""] = $1["status"] as? String
            }
            #expect(conditions["Ready"] == "True" && conditions["Initialized"] == "True" && conditions["ContainersReady"] == "True")

            h.killAgent()
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(!h.processes(commandLine: "sleep 4001").isEmpty, "the pod outlives the agent")
            try h.startAgent()
            #expect(await h.eventually(20) { h.phase("web") == "Running" })
            let after = h.containerStatuses(h.pod("web") ?? [:])
            #expect(after.mapValues { $0["containerID"] as? String ?? "" } == before)
            #expect(after.values.allSatisfy { $0["restartCount"] as? Int == 0 })

            h.removeManifest("web.yaml")
            #expect(await h.eventually(20) { h.pod("web") == nil && h.processes(commandLine: "sleep 4001").isEmpty && h.processes(commandLine: "sleep 4002").isEmpty })
            #expect(await h.eventually(5) { !((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").contains(h.base) })
            #expect((try? FileManager.default.contentsOfDirectory(atPath: h.logDir))?.isEmpty ?? true)
        } catch {
            Issue.record(error)
        }
        await h.tearDown()
    }

    @Test func restartPoliciesExitCodesAndBackoff() async throws {
        let h = try AgentHarness()
        do {
            try h.startAgent()
            for (name, policy, script) in [("crash", "Always", "echo run; exit 3"), ("done", "OnFailure", "exit 0"), ("fail", "Never", "exit 1")] {
                try h.writeManifest(name + ".yaml", """
                apiVersion: v1
                kind: Pod
                metadata: {name: \(name)}
                spec:
                  restartPolicy: \(policy)
                  terminationGracePeriodSeconds: 1
                  containers: [{name: c, image: test.local/busybox:1, command: ["sh", "-c", "\(script)"]}]
                """)
            }
            #expect(await h.eventually(20) { h.phase("done") == "Succeeded" && h.phase("fail") == "Failed" })
            let done = h.containerStatuses(h.pod("done") ?? [:])["c"] ?? [:]
            let terminated = (done["state"] as? [String: Any])?["terminated"] as? [String: Any] ?? [:]
            #expect(terminated["exitCode"] as? Int == 0 && terminated["reason"] as? String == "Completed")
            let failed = ((h.containerStatuses(h.pod("fail") ?? [:])["c"]?["state"] as? [String: Any])?["terminated"] as? [String: Any]) ?? [:]
            #expect(failed["exitCode"] as? Int == 1 && failed["reason"] as? String == "Error")
            // Always: restarted at once, then held back 10 s in CrashLoopBackOff.
            #expect(await h.eventually(20) {
                let c = h.containerStatuses(h.pod("crash") ?? [:])["c"] ?? [:]
                let waiting = (c["state"] as? [String: Any])?["waiting"] as? [String: Any]
                return (c["restartCount"] as? Int ?? 0) >= 1 && waiting?["reason"] as? String == "CrashLoopBackOff"
            })
            let crash = h.containerStatuses(h.pod("crash") ?? [:])["c"] ?? [:]
            let message = ((crash["state"] as? [String: Any])?["waiting"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.hasPrefix("back-off 10s restarting failed container=c pod=crash_default("))
            let last = (crash["lastState"] as? [String: Any])?["terminated"] as? [String: Any] ?? [:]
            #expect(last["exitCode"] as? Int == 3)
            #expect(h.phase("crash") == "Running")
            let count = crash["restartCount"] as? Int ?? 0
            // The next run may start only when the back-off has passed since the crash we saw
            // (timestamps from the status itself, so a slow machine cannot fake a pass or a fail).
            let crashedAt = Self.rfc3339(last["finishedAt"])
            #expect(await h.eventually(25) { (h.containerStatuses(h.pod("crash") ?? [:])["c"]?["restartCount"] as? Int ?? 0) > count })
            let after = h.containerStatuses(h.pod("crash") ?? [:])["c"] ?? [:]
            let running = (after["state"] as? [String: Any])?["running"] as? [String: Any]
            let lastRun = (after["lastState"] as? [String: Any])?["terminated"] as? [String: Any]
            let restartedAt = Self.rfc3339(running?["startedAt"] ?? lastRun?["startedAt"])
            if let crashedAt, let restartedAt {
                #expect(restartedAt.timeIntervalSince(crashedAt) >= 9, "restarted \(restartedAt) after the crash at \(crashedAt): inside the 10 s back-off")
            } else {
                Issue.record("no timestamps to check the back-off: \(after)")
            }
            let previous = String(decoding: h.get("/containerLogs/default/crash/c?previous=true") ?? Data(), as: UTF8.self)
            #expect(previous == "run\n")
        } catch {
            Issue.record(error)
        }
        await h.tearDown()
    }

    @Test func malformedManifestIsReportedAndOthersKeepRunning() async throws {
        let h = try AgentHarness()
        do {
            try h.startAgent()
            try h.writeManifest("good.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: good}
            spec:
              terminationGracePeriodSeconds: 1
              containers: [{name: c, image: test.local/busybox:1, command: ["sleep", "4003"]}]
            """)
            #expect(await h.eventually(20) { h.phase("good") == "Running" })
            let id = h.containerStatuses(h.pod("good") ?? [:])["c"]?["containerID"] as? String
            try h.writeManifest("bad.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: bad}
            spec:
              containers: [{name: c, image: test.local/busybox:1, command: "not-a-list"}]
            """)
            #expect(await h.eventually(10) {
                ((try? String(contentsOfFile: h.agentLog, encoding: .utf8)) ?? "").contains("\(h.manifests)/bad.yaml: spec.containers[0].command")
            })
            try await Task.sleep(nanoseconds: 500_000_000)
            #expect(h.pod("bad") == nil)
            #expect(h.phase("good") == "Running")
            #expect(h.containerStatuses(h.pod("good") ?? [:])["c"]?["containerID"] as? String == id)
        } catch {
            Issue.record(error)
        }
        await h.tearDown()
    }

    @Test func gracefulTerminationRunsTheHandler() async throws {
        let h = try AgentHarness()
        do {
            let marker = h.base + "/marker"
            try FileManager.default.createDirectory(atPath: marker, withIntermediateDirectories: true)
            try h.startAgent()
            try h.writeManifest("term.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: term}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: c
                image: test.local/busybox:1
                command: ["sh", "-c", "trap 'echo graceful > /m/done; exit 0' TERM; echo up; while true; do sleep 0.1; done"]
                volumeMounts: [{name: m, mountPath: /m}]
              volumes: [{name: m, hostPath: {path: "\(marker)", type: Directory}}]
            """)
            #expect(await h.eventually(20) { h.phase("term") == "Running" && String(decoding: h.get("/containerLogs/default/term/c") ?? Data(), as: UTF8.self) == "up\n" })
            let withTime = String(decoding: h.get("/containerLogs/default/term/c?timestamps=true") ?? Data(), as: UTF8.self)
            #expect(withTime.range(of: #"^\d{4}-\d\d-\d\dT[\d:.]+Z up\n$"#, options: .regularExpression) != nil)
            h.removeManifest("term.yaml")
            #expect(await h.eventually(10) { h.pod("term") == nil })
            #expect((try? String(contentsOfFile: marker + "/done", encoding: .utf8)) == "graceful\n")
        } catch {
            Issue.record(error)
        }
        await h.tearDown()
    }

    @Test func probesAndLifecycleHooks() async throws {
        let h = try AgentHarness()
        do {
            let marker = h.base + "/hooks"
            try FileManager.default.createDirectory(atPath: marker, withIntermediateDirectories: true)
            try h.startAgent()
            try h.writeManifest("probed.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: probed}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: ready
                image: test.local/busybox:1
                command: ["sh", "-c", "while true; do sleep 0.2; done"]
                readinessProbe: {exec: {command: ["cat", "/tmp/ready"]}, periodSeconds: 1}
                lifecycle:
                  postStart: {exec: {command: ["sh", "-c", "echo started > /h/poststart"]}}
                  preStop: {exec: {command: ["sh", "-c", "echo stopping > /h/prestop"]}}
                volumeMounts: [{name: h, mountPath: /h}]
              - name: live
                image: test.local/busybox:1
                command: ["sh", "-c", "touch /tmp/alive; while true; do sleep 0.2; done"]
                livenessProbe: {exec: {command: ["sh", "-c", "test -f /tmp/alive && rm /tmp/alive"]}, periodSeconds: 1, failureThreshold: 2}
              volumes: [{name: h, hostPath: {path: "\(marker)", type: Directory}}]
            """)
            #expect(await h.eventually(20) { h.phase("probed") == "Running" })
            #expect(await h.eventually(5) { FileManager.default.fileExists(atPath: marker + "/poststart") })
            let notReady = h.containerStatuses(h.pod("probed") ?? [:])["ready"]?["ready"] as? Bool
            #expect(notReady == false, "readiness probe failing: not ready")
            // Make the probe pass from inside the container (through swiftlet exec).
            try h.run(AgentHarness.buildDir + "/swiftlet", ["exec", "--root-dir", h.root, "probed", "-c", "ready", "--", "touch", "/tmp/ready"])
            #expect(await h.eventually(10) { h.containerStatuses(h.pod("probed") ?? [:])["ready"]?["ready"] as? Bool == true })
            // The liveness probe succeeds once, then fails twice: the container is restarted.
            #expect(await h.eventually(30) { (h.containerStatuses(h.pod("probed") ?? [:])["live"]?["restartCount"] as? Int ?? 0) >= 1 })
            h.removeManifest("probed.yaml")
            #expect(await h.eventually(15) { h.pod("probed") == nil })
            #expect((try? String(contentsOfFile: marker + "/prestop", encoding: .utf8)) == "stopping\n")
        } catch {
            Issue.record(error)
        }
        await h.tearDown()
    }
}


extension StandaloneAgentRootTests {
    /// Status timestamps are RFC 3339 with whole seconds, as the API writes them.
    static func rfc3339(_ value: Any?) -> Date? {
        guard let text = value as? String else { return nil }
        return ISO8601DateFormatter().date(from: text)
    }
}

