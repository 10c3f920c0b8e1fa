import CRIAPI
import Foundation
import GRPCCore
import LinuxPrimitives
import Testing

/// The CRI validation suite's "runtime info" and "PodSandbox" groups, through the socket.
@Suite("CRI runtime info and pod sandbox (RootTests)", .enabled(if: CRIHarness.canRun, "needs root and /bin/busybox"))
struct RuntimeAndSandboxRootTests {
    @Test func versionStatusAndConfig() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                var v = Runtime_V1_VersionRequest()
                v.version = "v1"
                let version = try await rt.version(v)
                #expect(version.runtimeApiVersion == "v1")
                #expect(version.runtimeName == "swiftlet")
                #expect(!version.runtimeVersion.isEmpty)
                var s = Runtime_V1_StatusRequest()
                s.verbose = true
                let status = try await rt.status(s)
                let conditions = Dictionary(status.status.conditions.map { ($0.type, $0.status) }, uniquingKeysWith: { a, _ in a })
                #expect(conditions["RuntimeReady"] == true)
                #expect(conditions["NetworkReady"] == true)
                #expect(status.info["config"]?.contains(h.root) == true)
                #expect(try await rt.runtimeConfig(Runtime_V1_RuntimeConfigRequest()).linux.cgroupDriver == .cgroupfs)
                var u = Runtime_V1_UpdateRuntimeConfigRequest()
                u.runtimeConfig.networkConfig.podCidr = "10.99.0.0/24"
                _ = try await rt.updateRuntimeConfig(u)
                #expect(try await rt.status(s).info["config"]?.contains("10.99.0.0/24") == true)
            }
            // The socket is root's only.
            let st = try #require(FileSystem.lstatOrNil(h.socket))
            #expect(st.st_mode & 0o777 == 0o600)
            #expect(st.st_uid == 0)
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func sandboxLifecycleIsIdempotentAndRoundTripsMetadata() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                let labels = ["app": "web", "io.kubernetes.pod.name": "pod-a", "weird/key.with-chars_": "värde ✓"]
                let annotations = ["note": "multi\nline \"quoted\" value", "empty": ""]
                let config = CRI.podConfig("pod-a", harness: h, labels: labels, annotations: annotations)
                let id = try await CRI.runPod(rt, config)
                let other = try await CRI.runPod(rt, CRI.podConfig("pod-b", harness: h, labels: ["app": "db"]))

                let status = try await CRI.podStatus(rt, id, verbose: true)
                #expect(status.status.id == id)
                #expect(status.status.state == .sandboxReady)
                #expect(status.status.metadata.name == "pod-a")
                #expect(status.status.metadata.uid == config.metadata.uid)
                #expect(status.status.labels == labels)
                #expect(status.status.annotations == annotations)
                #expect(status.status.createdAt > 0)
                #expect(!status.status.network.ip.isEmpty, "a CNI address in the pod network")
                #expect(status.status.linux.namespaces.options.pid == .container)
                #expect(status.info["info"]?.contains("\"pid\"") == true)

                // Filters: id (and a unique prefix), state, labels.
                var list = Runtime_V1_ListPodSandboxRequest()
                #expect(Set(try await rt.listPodSandbox(list).items.map(\.id)) == [id, other])
                list.filter.id = String(id.prefix(12))
                #expect(try await rt.listPodSandbox(list).items.map(\.id) == [id])
                list.filter = Runtime_V1_PodSandboxFilter()
                list.filter.labelSelector = ["app": "db"]
                #expect(try await rt.listPodSandbox(list).items.map(\.id) == [other])
                let listed = try #require(try await rt.listPodSandbox(Runtime_V1_ListPodSandboxRequest()).items.first { $0.id == id })
                #expect(listed.labels == labels && listed.annotations == annotations)

                for _ in 0..<2 { try await CRI.stopPod(rt, id) }
                #expect(try await CRI.podStatus(rt, id).status.state == .sandboxNotready)
                list.filter = Runtime_V1_PodSandboxFilter()
                list.filter.state.state = .sandboxNotready
                #expect(try await rt.listPodSandbox(list).items.map(\.id) == [id])
                for _ in 0..<2 { try await CRI.removePod(rt, id) }
                #expect(await CRI.code { try await CRI.podStatus(rt, id) } == .notFound)
                #expect(try await rt.listPodSandbox(Runtime_V1_ListPodSandboxRequest()).items.map(\.id) == [other])
                // Unknown ids: stop and remove succeed, status is NotFound.
                try await CRI.stopPod(rt, "0123456789abcdef")
                try await CRI.removePod(rt, "0123456789abcdef")
                #expect(await CRI.code { try await CRI.podStatus(rt, "0123456789abcdef") } == .notFound)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func badSandboxRequestsAreRefusedClearly() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                var noName = CRI.podConfig("x", harness: h)
                noName.metadata.name = ""
                #expect(await CRI.code { try await CRI.runPod(rt, noName) } == .invalidArgument)
                var hostSysctl = CRI.podConfig("sysctl", harness: h)
                hostSysctl.linux.sysctls = ["kernel.pid_max": "100000"]
                #expect(await CRI.code { try await CRI.runPod(rt, hostSysctl) } == .invalidArgument)
                var netOnHost = CRI.podConfig("hostnet", harness: h, network: .node)
                netOnHost.linux.sysctls = ["net.ipv4.ip_unprivileged_port_start": "0"]
                #expect(await CRI.code { try await CRI.runPod(rt, netOnHost) } == .invalidArgument)
                var handler = Runtime_V1_RunPodSandboxRequest()
                handler.config = CRI.podConfig("handler", harness: h)
                handler.runtimeHandler = "kata"
                #expect(await CRI.code { try await rt.runPodSandbox(handler) } == .invalidArgument)
                // Nothing half-made stays behind.
                let remaining = try await rt.listPodSandbox(Runtime_V1_ListPodSandboxRequest()).items
                #expect(remaining.isEmpty)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }
}
