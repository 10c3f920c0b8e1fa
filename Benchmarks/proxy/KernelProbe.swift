import Foundation
import LinuxNetlink

/// `proxy-bench --probe`: what the kernel charges for each kind of change, on tables shaped
/// like ours, so the design rests on measurements rather than guesses. Each probe builds S
/// services in a scratch namespace, then times one commit of a kind many times.
enum KernelProbe {
    static let table = NFTTableRef(family: .ip, name: "probe")

    static func rule(_ chain: String, _ e: [NFTExpression]) -> NFTRule { NFTRule(table: table, chain: chain, expressions: e) }

    static func key3() -> [NFTExpression] { NFTMatch.loadAddressProtoPort(.destination, ipv6: false) }

    static func vip(_ s: Int) -> [UInt8] { [172, 30, UInt8(s / 250 % 256), UInt8(s % 250 + 1)] }
    static func ep(_ s: Int, _ e: Int, _ gen: Int = 0) -> [UInt8] {
        let n = s * 16 + e
        return [10, UInt8(64 + gen * 8 + n / 65536), UInt8(n / 256 % 256), UInt8(n % 256)]
    }

    /// The pick rule of a shared chain: `dnat to ip daddr . meta l4proto . th dport . numgen random mod N map @endpoints`.
    static func pick(_ n: Int) -> [NFTExpression] {
        key3() + [.numgen(.random, modulus: UInt32(n), offset: 0, into: .reg32(3)),
                  .lookup(set: "endpoints", source: .reg32(0), dest: .reg(1), invert: false),
                  .nat(.dnat, family: .ip, address: .reg(1), port: .reg32(1), flags: 0)]
    }

    static func endpointElements(_ s: Int, _ n: Int, gen: Int = 0) -> [NFTSetElement] {
        (0..<n).map { e in
            NFTSetElement(key: NFTBytes.concat([vip(s), [6], NFTBytes.u16Net(80), NFTBytes.u32Host(UInt32(e))]),
                          value: .data(NFTBytes.concat([ep(s, e, gen), NFTBytes.u16Net(8080)])))
        }
    }

    static func key(_ s: Int) -> [UInt8] { NFTMatch.addressProtoPortKey(address: vip(s), proto: 6, port: 80) }

    enum Dispatch: String { case vmap, datamap }

    /// Skeleton plus S services x N endpoints, dispatched as `dispatch` says.
    static func build(_ s: Int, _ n: Int, dispatch: Dispatch) -> NFTTransaction {
        var tx = NFTTransaction()
        tx.delete(table: table, ifExists: true)
        tx.add(table: table)
        for (name, hook, prio) in [("nat-prerouting", NFTHook.prerouting, Int32(-100)), ("nat-output", .output, -100)] {
            tx.add(chain: NFTChain(table: table, name: name, base: .init(type: .nat, hook: hook, priority: prio)))
        }
        for (name, hook) in [("filter-input", NFTHook.input), ("filter-forward", .forward), ("filter-output", .output)] {
            tx.add(chain: NFTChain(table: table, name: name, base: .init(type: .filter, hook: hook, priority: -110)))
        }
        for name in ["services", "service-endpoints-check", "reject-chain", "mark-for-masquerade"] { tx.add(chain: NFTChain(table: table, name: name)) }
        for k in 1...10 { tx.add(chain: NFTChain(table: table, name: "pick-\(k)")) }
        let k3 = NFTDataType.concat([.ipv4Address, .inetProto, .inetService])
        tx.add(set: NFTSet(table: table, name: "endpoints", keyType: .concat([.ipv4Address, .inetProto, .inetService, .mark]),
                           dataType: .concat([.ipv4Address, .inetService])))
        tx.add(set: NFTSet(table: table, name: "no-endpoint-services", keyType: k3, dataType: .verdict))
        switch dispatch {
        case .vmap:
            tx.add(set: NFTSet(table: table, name: "service-ips", keyType: k3, dataType: .verdict))
        case .datamap:
            tx.add(set: NFTSet(table: table, name: "service-ips", keyType: k3, dataType: .mark))
            tx.add(set: NFTSet(table: table, name: "classes", keyType: .mark, dataType: .verdict))
        }
        tx.add(rule: rule("nat-prerouting", [.verdict(.jump("services"))]))
        tx.add(rule: rule("nat-output", [.verdict(.jump("services"))]))
        for c in ["filter-input", "filter-forward", "filter-output"] {
            tx.add(rule: rule(c, NFTMatch.ctState(NFTCtState.new) + [.verdict(.jump("service-endpoints-check"))]))
        }
        tx.add(rule: rule("service-endpoints-check", key3() + [NFTMatch.verdictMap("no-endpoint-services")]))
        tx.add(rule: rule("reject-chain", [.reject(.icmpPortUnreachable)]))
        tx.add(rule: rule("mark-for-masquerade", NFTMatch.setMarkBits(0x4000)))
        switch dispatch {
        case .vmap:
            tx.add(rule: rule("services", key3() + [NFTMatch.verdictMap("service-ips")]))
        case .datamap:
            tx.add(rule: rule("services", key3() + [.lookup(set: "service-ips", source: .reg32(0), dest: .reg(1), invert: false),
                                                    .lookup(set: "classes", source: .reg(1), dest: .verdict, invert: false)]))
        }
        for k in 1...10 {
            tx.add(rule: rule("pick-\(k)", NFTMatch.address(.source, inPrefix: [10, 0, 0, 0], length: 8, negate: true)
                                + [.verdict(.jump("mark-for-masquerade"))]))
            tx.add(rule: rule("pick-\(k)", pick(k)))
        }
        if dispatch == .datamap {
            tx.add(elements: (1...10).map { NFTSetElement(key: NFTBytes.u32Host(UInt32($0)), verdict: .goto("pick-\($0)")) },
                   to: NFTSetRef(table: table, name: "classes"))
        }
        var dispatchElements: [NFTSetElement] = [], eps: [NFTSetElement] = []
        for i in 0..<s {
            dispatchElements.append(dispatchElement(i, n, dispatch))
            eps += endpointElements(i, n)
        }
        tx.add(elements: dispatchElements, to: NFTSetRef(table: table, name: "service-ips"))
        tx.add(elements: eps, to: NFTSetRef(table: table, name: "endpoints"))
        return tx
    }

    static func dispatchElement(_ s: Int, _ n: Int, _ d: Dispatch) -> NFTSetElement {
        d == .vmap ? NFTSetElement(key: key(s), verdict: .goto("pick-\(n)"))
            : NFTSetElement(key: key(s), value: .data(NFTBytes.u32Host(UInt32(n))))
    }

    static func time(_ nft: NFTables, _ tx: NFTTransaction) throws -> Double {
        let start = now()
        try nft.commit(tx)
        return since(start)
    }

    static func median(_ xs: [Double]) -> String {
        let s = xs.sorted()
        return String(format: "%.2f ms", s[s.count / 2] * 1000)
    }

    static func run(sizes: [Int]) throws {
        emit("kernel probe (ip family, 10 endpoints per service); medians of 15 commits")
        emit("dispatch | services | full build | endpoint replace | service add+remove | new shared chain (validation) | vmap goto element")
        for dispatch in [Dispatch.vmap, .datamap] {
            for s in sizes {
                let ns = try Scratch("probe\(s)")
                defer { ns.close() }
                let nft = try NFTables(networkNamespace: ns.path)
                let full = try time(nft, build(s, 10, dispatch: dispatch))
                let eps = NFTSetRef(table: table, name: "endpoints"), ips = NFTSetRef(table: table, name: "service-ips")
                var replace: [Double] = [], add: [Double] = [], need: [Double] = [], vgoto: [Double] = []
                for k in 0..<15 {
                    let svc = (k * 7919) % s
                    var tx = NFTTransaction()
                    let old = endpointElements(svc, 10), new = endpointElements(svc, 10, gen: 1)
                    tx.delete(elements: [old[0]], from: eps)
                    tx.add(elements: [new[0]], to: eps)
                    replace.append(try time(nft, tx))
                    var back = NFTTransaction()
                    back.delete(elements: [new[0]], from: eps)
                    back.add(elements: [old[0]], to: eps)
                    try nft.commit(back)
                    // A new service: its dispatch element and its endpoints.
                    let fresh = s + 1 + k
                    var addTx = NFTTransaction()
                    addTx.add(elements: [dispatchElement(fresh, 10, dispatch)], to: ips)
                    addTx.add(elements: endpointElements(fresh, 10), to: eps)
                    add.append(try time(nft, addTx))
                    var removeTx = NFTTransaction()
                    removeTx.delete(elements: [dispatchElement(fresh, 10, dispatch)], from: ips)
                    removeTx.delete(elements: endpointElements(fresh, 10), from: eps)
                    try nft.commit(removeTx)
                    // A rule that makes the kernel validate the table (a new shared chain).
                    var needTx = NFTTransaction()
                    needTx.add(chain: NFTChain(table: table, name: "pick-x\(k)"))
                    needTx.add(rule: rule("pick-x\(k)", pick(11)))
                    if dispatch == .datamap {
                        needTx.add(elements: [NFTSetElement(key: NFTBytes.u32Host(UInt32(100 + k)), verdict: .goto("pick-x\(k)"))],
                                   to: NFTSetRef(table: table, name: "classes"))
                    } else {
                        needTx.add(elements: [NFTSetElement(key: key(s + 100 + k), verdict: .goto("pick-x\(k)"))], to: ips)
                    }
                    need.append(try time(nft, needTx))
                    // A verdict element pointing at an existing chain (vmap dispatch change).
                    var g = NFTTransaction()
                    g.add(elements: [NFTSetElement(key: key(s + 200 + k), verdict: .goto("reject-chain"))],
                          to: NFTSetRef(table: table, name: "no-endpoint-services"))
                    vgoto.append(try time(nft, g))
                }
                emit("\(dispatch.rawValue) | \(s) | \(fmt(full)) | \(median(replace)) | \(median(add)) | \(median(need)) | \(median(vgoto))")
                if s == sizes.first {
                    do { emit(try sh("ip netns exec \(ns.name) nft list chain ip probe services 2>&1; ip netns exec \(ns.name) nft list chain ip probe pick-3")) } catch { emit("\(error)") }
                }
                ns.close()
            }
        }
        emit("load \(loadAverage())")
    }
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}
