import Foundation
import LinuxPrimitives
import Testing
@testable import ContainerStats

/// Exposition lines grouped: family name -> (type, sample lines).
func parseExposition(_ text: String) -> [String: (type: String, samples: [String])] {
    var families: [String: (type: String, samples: [String])] = [:]
    for line in text.split(separator: "\n") {
        if line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            families[String(parts[2])] = (String(parts[3]), [])
        } else if !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            families[name, default: ("untyped", [])].samples.append(String(line))
        }
    }
    return families
}

let promtoolPath = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileSystem.exists($0) }

/// `promtool check metrics` on the text; returns its complaints (empty when clean).
func promtoolProblems(_ text: [UInt8]) throws -> String? {
    guard let promtool = promtoolPath else { return "promtool not installed" }
    let result = try Subprocess.run(promtool, arguments: [promtool, "check", "metrics"], environment: TestHost.environment, input: text)
    if result.status.succeeded { return nil }
    return String(decoding: result.stdout + result.stderr, as: UTF8.self)
}

@Suite struct RenderTests {
    @Test func cadvisorFamiliesAreContiguousAndTyped() throws {
        let text = String(decoding: CadvisorMetrics.render(SyntheticSnapshot.make(pods: 3, containersPerPod: 2)), as: UTF8.self)
        var seen: Set<String> = []
        var current = ""
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            if name != current {
                #expect(!seen.contains(name), "family \(name) appears in two separate blocks")
                seen.insert(name)
                current = name
            }
        }
        let families = parseExposition(text)
        #expect(families["container_cpu_usage_seconds_total"]?.type == "counter")
        #expect(families["container_memory_working_set_bytes"]?.type == "gauge")
        // root + 3 pods + 6 containers
        #expect(families["container_cpu_usage_seconds_total"]?.samples.count == 10)
        let line = try #require(families["container_cpu_usage_seconds_total"]?.samples.first { $0.contains("container=\"c1\"") && $0.contains("pod=\"pod-2\"") })
        #expect(line == "container_cpu_usage_seconds_total{container=\"c1\",cpu=\"total\",id=\"/kubepods/pod-2/cid-2-1\",image=\"example.com/app:v1\",name=\"cid-2-1\",namespace=\"default\",pod=\"pod-2\"} 1.234567 1700000000250")
        let root = try #require(families["container_cpu_usage_seconds_total"]?.samples.first { $0.contains("id=\"/\"") })
        #expect(root.hasPrefix("container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 99 "))
        #expect(families["container_network_receive_bytes_total"]?.samples.first?.contains("interface=\"eth0\"") == true)
        #expect(families["machine_cpu_cores"]?.samples == ["machine_cpu_cores{boot_id=\"boot-1\",machine_id=\"abc\",system_uuid=\"uuid-1\"} 4"])
        #expect(families["container_spec_cpu_quota"]?.samples.contains { $0.contains("name=\"cid-0-0\"") && $0.contains(" 50000 ") } == true)
    }

    @Test func seriesWithoutSourceAreLeftOut() {
        // Hybrid-style samples: no cache, throttling, io or failcnt.
        let text = String(decoding: CadvisorMetrics.render(SyntheticSnapshot.make(pods: 2, full: false)), as: UTF8.self)
        let families = parseExposition(text)
        #expect(families["container_memory_cache"] == nil)
        #expect(families["container_cpu_cfs_throttled_periods_total"] == nil)
        #expect(families["container_fs_reads_bytes_total"] == nil)
        #expect(families["container_memory_failcnt"] == nil)
        #expect(families["container_memory_working_set_bytes"] != nil)
    }

    @Test func labelValuesAreEscaped() {
        let text = String(decoding: CadvisorMetrics.render(SyntheticSnapshot.make(pods: 1, namespace: "we\"ird\\ns\nx")), as: UTF8.self)
        #expect(text.contains("namespace=\"we\\\"ird\\\\ns\\nx\""))
    }

    @Test func microsecondValuesAreExact() {
        var w = PrometheusTextWriter()
        for micros: UInt64 in [0, 1, 10, 1_000_000, 1_234_567, 5_000_100] { w.series("m", .empty); w.value(micros: micros) }
        #expect(String(decoding: w.bytes, as: UTF8.self) == "m 0\nm 0.000001\nm 0.00001\nm 1\nm 1.234567\nm 5.0001\n")
    }

    @Test(.enabled(if: promtoolPath != nil, "promtool (Debian's prometheus package) is not installed"))
    func promtoolAcceptsEveryExposition() throws {
        let snapshot = SyntheticSnapshot.make(pods: 5, containersPerPod: 2)
        for (name, text) in [("cadvisor", CadvisorMetrics.render(snapshot)), ("resource", ResourceMetrics.render(snapshot)),
                             ("agent", AgentMetrics().render())] {
            let problems = try promtoolProblems(text)
            #expect(problems == nil, "promtool on /metrics/\(name): \(problems ?? "")")
        }
    }

    @Test func resourceMetricsCarryTimestamps() {
        let text = String(decoding: ResourceMetrics.render(SyntheticSnapshot.make(pods: 2)), as: UTF8.self)
        let families = parseExposition(text)
        #expect(families["container_cpu_usage_seconds_total"]?.samples.count == 2)
        #expect(families["pod_memory_working_set_bytes"]?.samples.count == 2)
        #expect(families["node_cpu_usage_seconds_total"]?.samples == ["node_cpu_usage_seconds_total 99 1700000000250"])
        for (name, family) in families where name != "resource_scrape_error" {
            for sample in family.samples {
                #expect(sample.split(separator: " ").count == 3, "no timestamp on \(sample)")
            }
        }
        #expect(text.contains("container_cpu_usage_seconds_total{container=\"c0\",namespace=\"default\",pod=\"pod-1\"} 1.234567 1700000000250"))
    }

    @Test func summaryMatchesKubeletShape() throws {
        let json = SummaryAPI.render(SyntheticSnapshot.make(pods: 2, containersPerPod: 2))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        let node = try #require(object["node"] as? [String: Any])
        #expect(node["nodeName"] as? String == "node-a")
        #expect(node["startTime"] as? String == "2023-11-03T08:26:40Z")
        let pods = try #require(object["pods"] as? [[String: Any]])
        #expect(pods.count == 2)
        let pod = pods[1]
        #expect((pod["podRef"] as? [String: String]) == ["name": "pod-1", "namespace": "default", "uid": "uid-1"])
        let containers = try #require(pod["containers"] as? [[String: Any]])
        let cpu = try #require(containers[0]["cpu"] as? [String: Any])
        #expect(cpu["usageNanoCores"] as? Int == 250_000_000)
        #expect(cpu["usageCoreNanoSeconds"] as? Int == 1_234_567_000)
        let memory = try #require(containers[0]["memory"] as? [String: Any])
        #expect(memory["workingSetBytes"] as? Int == 10 << 20)
        #expect(memory["availableBytes"] as? Int == (1 << 30) - (10 << 20))
        let rootfs = try #require(containers[0]["rootfs"] as? [String: Any])
        #expect(rootfs["usedBytes"] as? Int == 8192)
        let network = try #require(pod["network"] as? [String: Any])
        #expect(network["name"] as? String == "eth0")
        #expect(network["rxBytes"] as? Int == 1000)
        let volumes = try #require(pod["volume"] as? [[String: Any]])
        #expect(volumes.first?["name"] as? String == "scratch")
        let ephemeral = try #require(pod["ephemeral-storage"] as? [String: Any])
        #expect(ephemeral["usedBytes"] as? Int == 2 * (8192 + 8192) + 4096)
        #expect((pod["process_stats"] as? [String: Int])?["process_count"] == 2)

        let small = try #require(try JSONSerialization.jsonObject(with: Data(SummaryAPI.render(SyntheticSnapshot.make(pods: 1), onlyCPUAndMemory: true))) as? [String: Any])
        let smallPod = try #require((small["pods"] as? [[String: Any]])?.first)
        #expect(smallPod["network"] == nil)
        #expect(smallPod["cpu"] != nil)
    }

    @Test func specIsMachineInfo() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(MachineSpec.render(SyntheticSnapshot.machine))) as? [String: Any])
        #expect(object["num_cores"] as? Int == 4)
        #expect(object["num_physical_cores"] as? Int == 2)
        #expect(object["machine_id"] as? String == "abc")
        #expect(object["memory_capacity"] as? Int == 8 << 30)
        #expect(object["kernel_version"] as? String == "6.1.0")
    }
}
