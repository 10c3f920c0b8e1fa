typealias IPAddress = ServiceProxy.IPAddress
import Foundation
import KubeAPI
import LinuxNetlink
import Synchronization
@testable import ServiceProxy

/// Records transactions instead of applying them; can be told to refuse the next one.
final class RecordingBackend: ProxyBackend {
    let state = Mutex<(transactions: [NFTTransaction], failNext: Bool, conntrack: [[ConntrackFilter]])>(([], false, []))

    func apply(_ transaction: NFTTransaction) throws {
        try state.withLock { s in
            if s.failNext {
                s.failNext = false
                throw NFTablesError(operation: "test refusal", operationIndex: 0, errno: 16, kernelMessage: nil, otherFailures: 0)
            }
            s.transactions.append(transaction)
        }
    }

    func deleteConntrack(_ filters: [ConntrackFilter], ipv6: Bool) throws -> Int {
        state.withLock { $0.conntrack.append(filters) }
        return 0
    }

    func localAddresses() throws -> [IPAddress] { [IPAddress("192.168.1.10")!, IPAddress("127.0.0.1")!] }

    var transactions: [NFTTransaction] { state.withLock { $0.transactions } }
    var last: NFTTransaction? { transactions.last }
    func failNext() { state.withLock { $0.failNext = true } }
    var conntrack: [[ConntrackFilter]] { state.withLock { $0.conntrack } }
}

enum Fixtures {
    static func service(_ name: String, ip: String, ports: String = "[{name: http, port: 80, targetPort: 8080, protocol: TCP}]",
                        extra: String = "") -> Service {
        let yaml = """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: default}
        spec: {clusterIP: \(ip), clusterIPs: [\(ip)], ports: \(ports)\(extra.isEmpty ? "" : ", " + extra)}
        """
        return decode(yaml)
    }

    static func slice(_ service: String, _ endpoints: [(ip: String, ready: Bool, terminating: Bool, node: String?)],
                      port: Int = 8080, name: String? = nil, portName: String = "http", proto: String = "TCP") -> EndpointSlice {
        var yaml = """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: \(name ?? service + "-abc"), namespace: default, labels: {kubernetes.io/service-name: \(service)}}
        addressType: IPv4
        ports: [{name: \(portName), port: \(port), protocol: \(proto)}]
        endpoints:
        """
        if endpoints.isEmpty { yaml += " []" }
        for ep in endpoints {
            let node = ep.node.map { ", nodeName: \($0)" } ?? ""
            yaml += "\n- {addresses: [\"\(ep.ip)\"], conditions: {ready: \(ep.ready), serving: \(ep.ready || ep.terminating), terminating: \(ep.terminating)}\(node)}"
        }
        return decode(yaml)
    }

    static func ready(_ ips: String...) -> [(ip: String, ready: Bool, terminating: Bool, node: String?)] {
        ips.map { ($0, true, false, nil) }
    }

    static func decode<T: Decodable>(_ yaml: String) -> T {
        do {
            return try Manifest.decode(T.self, from: try Manifest.documents(yaml)[0])
        } catch {
            fatalError("fixture does not decode: \(error)\n\(yaml)")
        }
    }
}

extension NFTTransaction {
    /// Every chain, set and element key the transaction names (for "touches only X" checks).
    var touchedNames: [String] {
        operations.flatMap { op -> [String] in
            switch op {
            case .addChain(let c): return [c.name]
            case .deleteChain(_, let n), .flushChain(_, let n): return [n]
            case .addRule(let r): return [r.chain]
            case .addSet(let s): return [s.name]
            case .deleteSet(let s), .flushSet(let s): return [s.name]
            case .addElements(let s, let e, _), .deleteElements(let s, let e, _): return e.map { _ in s.name }
            default: return []
            }
        }
    }

    /// Elements added (with values) or deleted (values nil) in a set, in transaction order.
    func elements(in set: String, family: NFTFamily? = nil) -> [NFTSetElement] {
        operations.flatMap { op -> [NFTSetElement] in
            switch op {
            case .addElements(let s, let e, _) where s.name == set && (family == nil || s.table.family == family): return e
            case .deleteElements(let s, let e, _) where s.name == set && (family == nil || s.table.family == family):
                return e.map { NFTSetElement(key: $0.key) }
            default: return []
            }
        }
    }

    var rules: [NFTRule] { operations.compactMap { if case .addRule(let r) = $0 { return r } else { return nil } } }
    var elementCount: Int {
        operations.reduce(0) { n, op in
            switch op {
            case .addElements(_, let e, _), .deleteElements(_, let e, _): return n + e.count
            default: return n
            }
        }
    }
}
