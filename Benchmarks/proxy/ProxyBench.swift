import Foundation
import Glibc
import KubeAPI
import LinuxNetlink
import LinuxPrimitives
import ServiceProxy

/// proxy-bench: Swiftlet's proxier (netlink batches) against kube-proxy's own inputs to the
/// kernel (`nft -f` of its nftables-mode ruleset and delta, `iptables-restore` of its
/// iptables-mode ruleset), for the same services, in the same run, each in a scratch network
/// namespace. Run as root: `scripts/build-release.sh --product proxy-bench && .build/release/proxy-bench [--sizes 1000,10000] [--endpoints 10]`.
struct Options {
    var sizes = [1000, 10000]
    var endpoints = 10
    var changes = 20
    var skipPeers = false
    var probe = false
    var fullRounds = 3
    var nodes = 100

    init(_ args: [String]) {
        var i = 1
        while i < args.count {
            switch args[i] {
            case "--sizes": i += 1; sizes = args[i].split(separator: ",").compactMap { Int($0) }
            case "--endpoints": i += 1; endpoints = Int(args[i]) ?? 10
            case "--changes": i += 1; changes = Int(args[i]) ?? 20
            case "--skip-peers": skipPeers = true
            case "--probe": probe = true
            case "--nodes": i += 1; nodes = Int(args[i]) ?? 100
            case "--full-rounds": i += 1; fullRounds = Int(args[i]) ?? 3
            default: break
            }
            i += 1
        }
    }
}

func sh(_ command: String) throws -> String {
    let r = try Subprocess.run("/bin/sh", arguments: ["sh", "-c", command], environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    guard r.status.succeeded else {
        throw ShellError(command: command, stderr: String(decoding: r.stderr, as: UTF8.self))
    }
    return String(decoding: r.stdout, as: UTF8.self)
}

struct ShellError: Error, CustomStringConvertible {
    let command: String
    let stderr: String
    var description: String { "`\(command.prefix(120))` failed: \(stderr.prefix(2000))" }
}

/// A scratch namespace, deleted on `close()`.
final class Scratch {
    let name: String
    init(_ tag: String) throws {
        name = "swbench-\(getpid())-\(tag)"
        _ = try sh("ip netns add \(name) && ip -n \(name) link set lo up")
    }
    var path: String { "/run/netns/\(name)" }
    func close() { _ = try? sh("ip netns del \(name)") }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
func since(_ start: UInt64) -> Double { Double(now() - start) / 1e9 }

func service(_ s: Int) throws -> Service {
    let json = """
    {"apiVersion":"v1","kind":"Service","metadata":{"name":"svc\(s)","namespace":"ns\(s % 50)"},
     "spec":{"clusterIP":"\(KubeProxyText.serviceIP(s))","ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]}}
    """
    return try Manifest.decode(Service.self, json: Data(json.utf8))
}

/// Endpoints spread over `nodes` nodes as the EndpointSlice controller records them (`nodeName`;
/// none when 0); the proxier under test runs on `node-0`.
func slice(_ s: Int, endpoints: Int, generation: Int = 0, nodes: Int = 0) throws -> EndpointSlice {
    var ips = (0..<endpoints).map { KubeProxyText.endpoint(s, $0) }
    if generation > 0 { ips[0] = KubeProxyText.endpoint(s, endpoints, generation: generation) }
    let eps = ips.enumerated().map { e, ip in
        let node = nodes > 0 ? ",\"nodeName\":\"node-\((s * 16 + e) % nodes)\"" : ""
        return "{\"addresses\":[\"\(ip)\"],\"conditions\":{\"ready\":true}\(node)}"
    }.joined(separator: ",")
    let json = """
    {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"svc\(s)-a","namespace":"ns\(s % 50)",
     "labels":{"kubernetes.io/service-name":"svc\(s)"}},"addressType":"IPv4",
     "ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[\(eps)]}
    """
    return try Manifest.decode(EndpointSlice.self, json: Data(json.utf8))
}

/// Unbuffered output: a long peer run must not hold back the rows measured before it.
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func fmt(_ s: Double) -> String { s >= 1 ? String(format: "%.2f s", s) : String(format: "%.1f ms", s * 1000) }

@main
struct ProxyBench {
    static func main() async {
        do { try await run() } catch {
            print("proxy-bench: \(error)")
            exit(1)
        }
    }

    static func run() async throws {
        let options = Options(CommandLine.arguments)
        guard getuid() == 0 else {
            print("proxy-bench needs root (network namespaces, nf_tables)")
            exit(2)
        }
        if options.probe {
            try KernelProbe.run(sizes: options.sizes)
            return
        }
        let scratchDir = NSTemporaryDirectory() + "proxy-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratchDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratchDir) }
        var rows: [String] = []
        emit("services x endpoints | full sync: swiftlet | nft -f | iptables-restore | endpoint replaced: swiftlet (median, max) | nft -f delta"
             + " | service added: swiftlet (median, max) | nft -f delta | endpoint added: swiftlet (median, max)")
        for n in options.sizes {
            // Swiftlet: the whole pipeline (model -> fragments -> one netlink batch).
            let ns = try Scratch("ours\(n)")
            defer { ns.close() }
            var config = ProxyConfig(nodeName: "node-0")
            config.families = [.ipv4]
            config.clusterCIDRs = [IPPrefix("10.0.0.0/8")!]
            let backend = try NetlinkProxyBackend(networkNamespace: ns.path)
            let proxier = Proxier(config: config, backend: backend, minSyncPeriod: .zero)
            for s in 0..<n {
                await proxier.update(service: try service(s))
                await proxier.update(slice: try slice(s, endpoints: options.endpoints, nodes: options.nodes))
            }
            // The first full sync creates the table; later ones (a restart, or a resync after a
            // refused batch) replace it with the same contents in one transaction too.
            var fulls: [Double] = []
            var start = now()
            var ok = true
            for round in 0..<max(1, options.fullRounds) {
                if round > 0 { await proxier.requestFullSync() }
                start = now()
                ok = await proxier.sync()
                fulls.append(since(start))
                guard ok else { print("swiftlet full sync failed"); exit(1) }
                let phases = await proxier.lastSyncPhases
                let commit = backend.lastCommit
                emit(String(format: "  swiftlet full sync %d (%@): %.1f ms = plan %.1f + encode %.1f + kernel %.1f + bookkeeping %.1f (%d messages, %.1f MB), load %@",
                            n, round == 0 ? "first" : "again", fulls.last! * 1000, phases.plan * 1000, (commit?.encodeSeconds ?? 0) * 1000,
                            (commit?.kernelSeconds ?? 0) * 1000, phases.bookkeeping * 1000, commit?.messages ?? 0,
                            Double(commit?.bytes ?? 0) / 1e6, loadAverage()))
            }
            let full = fulls.first!
            var changes: [Double] = []
            for k in 0..<options.changes {
                let s = (k * 7919) % n
                await proxier.update(slice: try slice(s, endpoints: options.endpoints, generation: 1 + k % 2, nodes: options.nodes))
                start = now()
                ok = await proxier.sync()
                changes.append(since(start))
                guard ok else { print("swiftlet change sync failed"); exit(1) }
            }
            // A new service (dispatch entry, slots, ClusterIP): a verdict element, so the kernel
            // re-validates the dispatch map (a walk over its elements, no chains).
            var adds: [Double] = []
            for k in 0..<max(1, options.changes / 2) {
                await proxier.update(service: try service(n + k))
                await proxier.update(slice: try slice(n + k, endpoints: options.endpoints, nodes: options.nodes))
                start = now()
                ok = await proxier.sync()
                adds.append(since(start))
                guard ok else { print("swiftlet add sync failed"); exit(1) }
            }
            // One more endpoint: the dispatch verdict moves to the next pick chain (made by the
            // first such change).
            var grows: [Double] = []
            for k in 0..<max(1, options.changes / 2) {
                await proxier.update(slice: try slice((k * 7919 + 13) % n, endpoints: options.endpoints + 1, nodes: options.nodes))
                start = now()
                ok = await proxier.sync()
                grows.append(since(start))
                guard ok else { print("swiftlet scale sync failed"); exit(1) }
            }
            func spread(_ xs: [Double]) -> String {
                let sorted = xs.sorted()
                return "\(fmt(sorted[sorted.count / 2])), \(fmt(sorted.last ?? 0))"
            }
            let chains = (try? sh("ip netns exec \(ns.name) nft list table ip swiftlet-proxy | grep -c '^\\s*chain '")) ?? "?"
            ns.close()

            var nftFull = "skipped", iptFull = "skipped", nftDelta = "skipped", nftAdd = "skipped"
            if !options.skipPeers {
                let peer = try Scratch("nft\(n)")
                defer { peer.close() }
                let file = scratchDir + "/kube-proxy-\(n).nft"
                try KubeProxyText.fullRuleset(services: n, endpoints: options.endpoints).write(toFile: file, atomically: true, encoding: .utf8)
                nftFull = fmt(try seconds { _ = try sh("ip netns exec \(peer.name) nft -f \(file)") })
                var deltas: [Double] = []
                for k in 0..<min(5, options.changes) {
                    let delta = scratchDir + "/delta-\(k).nft"
                    try KubeProxyText.oneServiceDelta((k * 7919) % n, endpoints: options.endpoints).write(toFile: delta, atomically: true, encoding: .utf8)
                    deltas.append(try seconds { _ = try sh("ip netns exec \(peer.name) nft -f \(delta)") })
                }
                deltas.sort()
                nftDelta = fmt(deltas[deltas.count / 2])
                var added: [Double] = []
                for k in 0..<3 {
                    let delta = scratchDir + "/add-\(k).nft"
                    try KubeProxyText.oneServiceAdd(n + k, endpoints: options.endpoints).write(toFile: delta, atomically: true, encoding: .utf8)
                    added.append(try seconds { _ = try sh("ip netns exec \(peer.name) nft -f \(delta)") })
                }
                nftAdd = fmt(added.sorted()[1])
                peer.close()

                let ipt = try Scratch("ipt\(n)")
                defer { ipt.close() }
                let rules = scratchDir + "/iptables-\(n).rules"
                try KubeProxyText.iptablesRestore(services: n, endpoints: options.endpoints).write(toFile: rules, atomically: true, encoding: .utf8)
                // Bounded: iptables-nft needs many minutes at 10k x 10.
                let limit = 300
                let took = seconds { _ = try? sh("timeout \(limit) ip netns exec \(ipt.name) iptables-restore --noflush < \(rules)") }
                iptFull = took >= Double(limit) - 1 ? "> \(limit) s (stopped)" : fmt(took)
                ipt.close()
            }
            let row = "\(n) x \(options.endpoints) | \(fmt(full)) | \(nftFull) | \(iptFull) | \(spread(changes)) | \(nftDelta) | \(spread(adds)) | \(nftAdd) | \(spread(grows))"
            rows.append(row)
            emit(row + "   (our chains: \(chains.trimmingCharacters(in: .whitespacesAndNewlines)); load \(loadAverage()))")
        }
        emit("\nmachine: \(ProcessInfo.processInfo.activeProcessorCount) cpus, load \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?")")
    }
}
