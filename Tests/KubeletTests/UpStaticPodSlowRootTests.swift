import Foundation
import Testing

/// `swiftlet up --pod-manifest-path`: the one-host mode runs static pods too, and the API server
/// it carries shows each as a mirror pod named `<name>-<node>`.
@Suite(.serialized, .enabled(if: AgentHarness.canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl"),
                             "needs root, /bin/busybox and kubectl"))
struct UpStaticPodSlowRootTests {
    @Test func staticPodsRunUnderUpWithMirrorPods() async throws {
        let h = try AgentHarness()
        do {
            try h.writeManifest("probe.yaml", """
                apiVersion: v1
                kind: Pod
                metadata: {name: probe}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers: [{name: c, image: "test.local/busybox:1", command: ["sleep", "4322"]}]
                """)
            try h.startUp(extra: ["--node-name", "up1", "--pod-manifest-path", h.manifests])
            @Sendable func field(_ path: String) -> String? { h.kubectl(["get", "pod", "probe-up1", "-n", "default", "-o", "jsonpath={\(path)}"]) }
            #expect(await h.eventually(60) { field(".status.phase") == "Running" }, "log:\n\(h.tail(h.agentLog))")
            #expect(field(".metadata.annotations.kubernetes\\.io/config\\.source") == "file")
            #expect(field(".spec.nodeName") == "up1")
            #expect(h.processes(commandLine: "sleep 4322").count == 1)

            h.removeManifest("probe.yaml")
            #expect(await h.eventually(30) {
                h.kubectl(["get", "pods", "-o", "name"])?.contains("probe-up1") == false && h.processes(commandLine: "sleep 4322").isEmpty
            }, "log:\n\(h.tail(h.agentLog))")
        } catch {
            Issue.record(error)
        }
        await h.tearDown()
    }
}
