import Foundation
import KubeAPI
import KubeClient
import LinuxPrimitives
import Logging

/// Registers the Node, renews its Lease in kube-node-lease every quarter of its duration (10 s
/// of 40 s by default), and reports node status when it changes, when the API server holds
/// another Ready status (the node lifecycle controller marked it Unknown while this agent or
/// the API server was away), and at least every 5 minutes, as kubelet does. At steady state
/// that is one Lease write and one node read per 10 s.
struct NodeStatusReporter: Sendable {
    let client: KubeClient
    let nodeName: String
    let nodeIP: String
    let podCIDR: String
    let kubeletPort: Int
    let maxPods: Int
    let reserved: [String: Int64]
    let logger: Logger
    /// nil when the pod network is ready, else why not (CNI STATUS).
    let networkReadiness: @Sendable () async -> String?
    var leaseDurationSeconds = 40

    var nodePath: String { "/api/v1/nodes/\(nodeName)" }

    func run() async {
        var backoff: Double = 1
        while !Task.isCancelled {
            do {
                try await register()
                break
            } catch {
                logger.warning("registering node \(nodeName): \(error); retrying in \(Int(backoff))s")
                try? await Task.sleep(nanoseconds: UInt64(backoff * 1e9))
                backoff = min(30, backoff * 2)
            }
        }
        await withDiscardingTaskGroup { group in
            group.addTask { await renewLease() }
            group.addTask { await reportStatus() }
        }
    }

    func register() async throws {
        let node: JSONValue = .object([
            "apiVersion": .string("v1"), "kind": .string("Node"),
            "metadata": .object(["name": .string(nodeName), "labels": .object([
                "kubernetes.io/hostname": .string(nodeName), "kubernetes.io/os": .string("linux"),
                "kubernetes.io/arch": .string("amd64"), "beta.kubernetes.io/os": .string("linux"), "beta.kubernetes.io/arch": .string("amd64"),
            ])]),
            "spec": .object(["podCIDR": .string(podCIDR), "podCIDRs": .array([.string(podCIDR)])]),
        ])
        do {
            _ = try await client.create("/api/v1/nodes", node)
            logger.info("registered node \(nodeName)")
        } catch let error as KubeAPIError where error.isConflict {
            logger.info("node \(nodeName) already registered")
        }
    }

    func renewLease() async {
        let path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/\(nodeName)"
        while !Task.isCancelled {
            let now = Self.microTime(Date())
            do {
                do {
                    _ = try await client.patch(path, .object(["spec": .object(["renewTime": .string(now), "holderIdentity": .string(nodeName),
                                                                                  "leaseDurationSeconds": .int(Int64(leaseDurationSeconds))])]))
                } catch let error as KubeAPIError where error.isNotFound {
                    _ = try await client.create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", .object([
                        "apiVersion": .string("coordination.k8s.io/v1"), "kind": .string("Lease"),
                        "metadata": .object(["name": .string(nodeName), "namespace": .string("kube-node-lease"),
                                             "ownerReferences": .array([.object(["apiVersion": .string("v1"), "kind": .string("Node"),
                                                                                 "name": .string(nodeName), "uid": .string(try await nodeUID())])])]),
                        "spec": .object(["holderIdentity": .string(nodeName), "leaseDurationSeconds": .int(Int64(leaseDurationSeconds)), "renewTime": .string(now)]),
                    ]))
                }
            } catch {
                logger.warning("renewing lease of node \(nodeName): \(error)")
            }
            try? await Task.sleep(nanoseconds: UInt64(max(leaseDurationSeconds, 1)) * 250_000_000)
        }
    }

    func nodeUID() async throws -> String { try await client.get(nodePath)["metadata"]?["uid"]?.stringValue ?? "" }

    /// RFC 3339 with microseconds (MicroTime), as Leases carry.
    static func microTime(_ date: Date) -> String { KubeTime.microString(date) }

    func reportStatus() async {
        var lastReported: JSONValue? = nil
        var lastTime = Date.distantPast
        var transitions: [String: (status: String, since: String)] = [:]
        while !Task.isCancelled {
            let readiness = await networkReadiness()
            let wanted: [(String, String, String, String)] = [
                ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                readiness == nil ? ("Ready", "True", "KubeletReady", "kubelet is posting ready status")
                                 : ("Ready", "False", "KubeletNotReady", "container runtime network not ready: \(readiness ?? "")"),
            ]
            let now = KubeTime.now()
            var conditions: [JSONValue] = []
            for (type, status, reason, message) in wanted {
                if transitions[type]?.status != status { transitions[type] = (status, now) }
                conditions.append(.object(["type": .string(type), "status": .string(status), "reason": .string(reason),
                                           "message": .string(message), "lastHeartbeatTime": .string(now),
                                           "lastTransitionTime": .string(transitions[type]?.since ?? now)]))
            }
            let body = statusBody(conditions: conditions)
            // Compare without the heartbeat times: report on change, or every 5 minutes.
            let comparable = Self.withoutHeartbeats(body)
            var stale = comparable != lastReported || Date().timeIntervalSince(lastTime) >= 300
            if !stale, let held = try? await client.get(nodePath) {
                let heldReady = (held["status"]?["conditions"]?.arrayValue ?? []).first { $0["type"]?.stringValue == "Ready" }
                stale = heldReady?["status"]?.stringValue != (readiness == nil ? "True" : "False")
            }
            if stale {
                do {
                    _ = try await client.patch(nodePath + "/status", .object(["status": body]))
                    lastReported = comparable
                    lastTime = Date()
                } catch {
                    logger.warning("updating status of node \(nodeName): \(error)")
                }
            }
            try? await Task.sleep(nanoseconds: 10_000_000_000)
        }
    }

    static func withoutHeartbeats(_ body: JSONValue) -> JSONValue {
        var copy = body
        if let conditions = body["conditions"]?.arrayValue {
            copy["conditions"] = .array(conditions.map { c in
                var d = c
                d["lastHeartbeatTime"] = nil
                return d
            })
        }
        return copy
    }

    func statusBody(conditions: [JSONValue]) -> JSONValue {
        let info = NodeFacts.collect(rootDir: "/")
        func quantities(_ subtract: Bool) -> JSONValue {
            let cpu = info.cores * 1000 - (subtract ? (reserved["cpu"] ?? 0) : 0)
            let memory = info.memoryBytes - (subtract ? (reserved["memory"] ?? 0) : 0)
            return .object(["cpu": .string(cpu % 1000 == 0 ? String(cpu / 1000) : "\(cpu)m"), "memory": .string("\(memory / 1024)Ki"),
                            "pods": .string(String(maxPods)), "ephemeral-storage": .string("\(info.diskBytes / 1024)Ki")])
        }
        return .object([
            "capacity": quantities(false),
            "allocatable": quantities(true),
            "conditions": .array(conditions),
            "addresses": .array([.object(["type": .string("InternalIP"), "address": .string(nodeIP)]),
                                 .object(["type": .string("Hostname"), "address": .string(nodeName)])]),
            "daemonEndpoints": .object(["kubeletEndpoint": .object(["Port": .int(Int64(kubeletPort))])]),
            "nodeInfo": .object([
                "machineID": .string(info.machineID), "systemUUID": .string(info.systemUUID), "bootID": .string(info.bootID),
                "kernelVersion": .string(info.kernel), "osImage": .string(info.osImage), "containerRuntimeVersion": .string("swiftlet://0.1.0"),
                "kubeletVersion": .string("v1.32.0-swiftlet"), "kubeProxyVersion": .string("v1.32.0-swiftlet"),
                "operatingSystem": .string("linux"), "architecture": .string("amd64"),
            ]),
        ])
    }
}

/// Machine facts for the Node object.
struct NodeFacts {
    var cores: Int64
    var memoryBytes: Int64
    var diskBytes: Int64
    var machineID: String
    var systemUUID: String
    var bootID: String
    var kernel: String
    var osImage: String

    static func collect(rootDir: String) -> NodeFacts {
        func read(_ path: String) -> String { ((try? FileSystem.readSmall(path)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }
        let cpuinfo = (try? FileSystem.readString("/proc/cpuinfo")) ?? ""
        let cores = Int64(max(1, cpuinfo.split(separator: "\n").filter { $0.hasPrefix("processor") }.count))
        var os = "Linux"
        for line in read("/etc/os-release").split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            os = String(line.dropFirst(12)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        var disk: Int64 = 0
        if let attrs = try? FileManager.default.attributesOfFileSystem(forPath: rootDir), let size = attrs[.systemSize] as? NSNumber {
            disk = size.int64Value
        }
        return NodeFacts(cores: cores, memoryBytes: MachineFacts.memoryBytes(), diskBytes: disk, machineID: read("/etc/machine-id"),
                         systemUUID: read("/sys/class/dmi/id/product_uuid"), bootID: read("/proc/sys/kernel/random/boot_id"),
                         kernel: read("/proc/sys/kernel/osrelease"), osImage: os)
    }
}
