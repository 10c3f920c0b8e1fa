import CRIAPI
import Foundation
import GRPCCore
import Testing

/// The CRI validation suite's "Stats" and "Networking" groups.
@Suite("CRI stats and networking (RootTests)", .enabled(if: CRIHarness.canRun, "needs root and /bin/busybox"))
struct StatsAndNetworkingRootTests {
    @Test func containerAndPodStatsAndMetrics() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                let pod = CRI.podConfig("stats", harness: h, labels: ["stats": "yes"])
                let sandbox = try await CRI.runPod(rt, pod)
                var config = CRI.containerConfig("busy", command: ["/bin/sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo spent > /tmp/spent; exec sleep 3600"])
                config.labels = ["role": "busy"]
                let id = try await CRI.run(rt, sandbox, pod, config)
                #expect(await CRI.eventually(20) { try await CRI.sh(rt, id, "cat /tmp/spent 2>/dev/null") == "spent" })

                var one = Runtime_V1_ContainerStatsRequest()
                one.containerID = id
                let stats = try await rt.containerStats(one).stats
                #expect(stats.attributes.id == id && stats.attributes.metadata.name == "busy" && stats.attributes.labels == config.labels)
                #expect(stats.cpu.timestamp > 0)
                #expect(stats.cpu.usageCoreNanoSeconds.value > 10_000_000, "the busy loop's CPU time is counted")
                #expect(stats.memory.workingSetBytes.value > 0)
                #expect(!stats.writableLayer.fsID.mountpoint.isEmpty)

                var list = Runtime_V1_ListContainerStatsRequest()
                list.filter.podSandboxID = sandbox
                #expect(try await rt.listContainerStats(list).stats.map(\.attributes.id) == [id])
                list.filter.labelSelector = ["role": "other"]
                #expect(try await rt.listContainerStats(list).stats.isEmpty)

                var podRequest = Runtime_V1_PodSandboxStatsRequest()
                podRequest.podSandboxID = sandbox
                let podStats = try await rt.podSandboxStats(podRequest).stats
                #expect(podStats.attributes.id == sandbox && podStats.attributes.labels == pod.labels)
                #expect(podStats.linux.cpu.usageCoreNanoSeconds.value >= stats.cpu.usageCoreNanoSeconds.value / 2)
                #expect(podStats.linux.network.defaultInterface.name == "eth0")
                #expect(podStats.linux.containers.map(\.attributes.id) == [id])
                #expect(podStats.linux.process.processCount.value >= 1)
                var podList = Runtime_V1_ListPodSandboxStatsRequest()
                podList.filter.labelSelector = ["stats": "yes"]
                #expect(try await rt.listPodSandboxStats(podList).stats.map(\.attributes.id) == [sandbox])

                let descriptors = try await rt.listMetricDescriptors(Runtime_V1_ListMetricDescriptorsRequest()).descriptors
                #expect(descriptors.contains { $0.name == "container_cpu_usage_seconds_total" })
                let metrics = try await rt.listPodSandboxMetrics(Runtime_V1_ListPodSandboxMetricsRequest()).podMetrics
                let mine = try #require(metrics.first { $0.podSandboxID == sandbox })
                #expect(mine.containerMetrics.first?.containerID == id)
                #expect(mine.containerMetrics.first?.metrics.contains { $0.name == "container_memory_working_set_bytes" && $0.value.value > 0 } == true)
                #expect(mine.metrics.contains { $0.name == "container_network_receive_bytes_total" && $0.labelValues == ["eth0"] })
                #expect(Set(mine.metrics.map(\.name)).isSubset(of: Set(descriptors.map(\.name))))

                one.containerID = "nope"
                #expect(await CRI.code { try await rt.containerStats(one) } == .notFound)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func podNetworkDNSAndHostname() async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                var pod = CRI.podConfig("net-a", harness: h)
                pod.dnsConfig.servers = ["10.96.0.10"]
                pod.dnsConfig.searches = ["cri-test.svc.cluster.local", "svc.cluster.local"]
                pod.dnsConfig.options = ["ndots:5"]
                let a = try await CRI.runPod(rt, pod)
                let other = CRI.podConfig("net-b", harness: h)
                let b = try await CRI.runPod(rt, other)
                let ipA = try await CRI.podStatus(rt, a).status.network.ip
                let ipB = try await CRI.podStatus(rt, b).status.network.ip
                #expect(ipA.hasPrefix("10.88.") && ipB.hasPrefix("10.88.") && ipA != ipB)
                let server = try await CRI.run(rt, b, other, CRI.containerConfig("srv", command: ["httpd", "-f", "-p", "8080", "-h", "/www"]))
                let client = try await CRI.run(rt, a, pod, CRI.containerConfig("cli", command: CRI.sleeper))
                #expect(try await CRI.sh(rt, client, "cat /etc/resolv.conf") ==
                        "search cri-test.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5")
                #expect(try await CRI.sh(rt, client, "hostname") == "net-a")
                #expect(try await CRI.sh(rt, client, "grep net-a /etc/hosts").hasPrefix(ipA))
                #expect(try await CRI.sh(rt, client, "ip -o -4 addr show eth0").contains(ipA + "/"))
                #expect(await CRI.eventually(5) { try await CRI.sh(rt, server, "cat /proc/net/tcp /proc/net/tcp6 | grep -c ':1F90 0000'") != "0" })
                #expect(try await CRI.sh(rt, client, "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc \(ipB) 8080").contains("hello from the pod"),
                        "pod to pod over the CNI bridge")
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }
}
