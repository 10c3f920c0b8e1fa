import Foundation
import Glibc
import Testing
@testable import LinuxNetlink

@Suite(.enabled(if: getuid() == 0, "needs root (network namespaces, nf_tables)"))
struct NFTablesRootTests {
    let t = NFTTableRef(family: .ip, name: "swiftlet-test")

    func sampleTransaction() -> NFTTransaction {
        var tx = NFTTransaction()
        tx.add(table: t)
        tx.add(chain: NFTChain(table: t, name: "nat-output", base: .init(type: .nat, hook: .output, priority: NFTPriority.dstnat)))
        tx.add(chain: NFTChain(table: t, name: "svc"))
        tx.add(chain: NFTChain(table: t, name: "ep-a"))
        tx.add(chain: NFTChain(table: t, name: "ep-b"))
        let map = NFTSet(table: t, name: "service-ips",
                         keyType: .concat([.ipv4Address, .inetProto, .inetService]), dataType: .verdict)
        tx.add(set: map)
        tx.add(set: NFTSet(table: t, name: "affinity", keyType: .ipv4Address, flags: [.dynamic], timeoutMilliseconds: 10_800_000))
        let ranges = NFTSet(table: t, name: "ranges", keyType: .ipv4Address, flags: [.interval])
        tx.add(set: ranges)
        tx.add(elements: [NFTSetElement(key: [10, 0, 0, 0], keyEnd: [10, 0, 0, 255])], to: ranges)
        tx.add(rule: NFTRule(table: t, chain: "nat-output",
                             expressions: NFTMatch.loadAddressProtoPort(.destination, ipv6: false) + [NFTMatch.verdictMap("service-ips")]))
        tx.add(rule: NFTRule(table: t, chain: "svc", expressions: [
            .numgen(.random, modulus: 2, offset: 0, into: .reg(1)),
            .lookupAnonymous(.indexVerdictMap([.goto("ep-a"), .goto("ep-b")]), source: .reg(1), dest: .verdict),
        ], comment: "spread"))
        tx.add(rule: NFTRule(table: t, chain: "ep-a", expressions: NFTMatch.address(.source, ipv6: false, inSet: "affinity")
                             + [.verdict(.accept)]))
        tx.add(rule: NFTRule(table: t, chain: "ep-a", expressions: [
            NFTMatch.loadAddress(.source, ipv6: false), .dynset(.update, set: "affinity", key: .reg(1), timeoutMilliseconds: nil),
        ] + NFTMatch.l4proto(NFTL4Proto.tcp) + NFTMatch.dnat(to: [10, 1, 0, 1], port: 8080, family: .ip)))
        tx.add(rule: NFTRule(table: t, chain: "ep-b", expressions: NFTMatch.l4proto(NFTL4Proto.tcp)
                             + NFTMatch.dnat(to: [10, 1, 0, 2], port: 8080, family: .ip)))
        tx.add(elements: [NFTSetElement(key: NFTMatch.addressProtoPortKey(address: [10, 96, 0, 1], proto: NFTL4Proto.tcp, port: 80),
                                        verdict: .goto("svc"))],
               to: NFTSetRef(table: t, name: "service-ips"))
        return tx
    }

    @Test func commitListAndDelete() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        let nft = try NFTables(networkNamespace: ns.path)
        try nft.commit(sampleTransaction())

        let text = try ns.run("nft list ruleset")
        #expect(text.contains("table ip swiftlet-test"))
        #expect(text.contains("ip daddr . meta l4proto . th dport vmap @service-ips"))
        #expect(text.contains("10.96.0.1 . tcp . 80 : goto svc"))
        #expect(text.contains("numgen random mod 2 vmap { 0 : goto ep-a, 1 : goto ep-b }"))
        #expect(text.contains("dnat to 10.1.0.1:8080"))
        #expect(text.contains("update @affinity { ip saddr }"))
        #expect(text.contains("10.0.0.0/24"))
        #expect(text.contains("comment \"spread\""))

        #expect(try nft.listTables(family: .ip) == [t])
        let chains = try nft.listChains(in: t)
        #expect(Set(chains.map(\.name)) == ["nat-output", "svc", "ep-a", "ep-b"])
        #expect(chains.first { $0.name == "nat-output" }?.base?.hook == .output)
        #expect(Set(try nft.listSets(in: t).map(\.name)) == ["service-ips", "affinity", "ranges"])
        let elements = try nft.listElements(of: NFTSetRef(table: t, name: "service-ips"))
        #expect(elements.count == 1 && elements[0].value == .verdict(.goto("svc")))
        let rules = try nft.listRules(in: t, chain: "svc")
        #expect(rules.count == 1 && rules[0].comment == "spread")

        // Element changes and a rule deleted by handle, in one more transaction.
        var tx = NFTTransaction()
        tx.delete(ruleHandle: rules[0].handle, chain: "svc", in: t)
        tx.delete(elements: elements, from: NFTSetRef(table: t, name: "service-ips"))
        try nft.commit(tx)
        #expect(try nft.listRules(in: t, chain: "svc").isEmpty)
        #expect(try nft.listElements(of: NFTSetRef(table: t, name: "service-ips")).isEmpty)

        var cleanup = NFTTransaction()
        cleanup.delete(table: t, ifExists: true)
        try nft.commit(cleanup)
        #expect(try nft.listTables().isEmpty)
        try nft.commit(cleanup)  // idempotent
    }

    @Test func refusedBatchNamesTheOperationAndChangesNothing() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        let nft = try NFTables(networkNamespace: ns.path)
        var tx = NFTTransaction()
        tx.add(table: t)
        tx.add(chain: NFTChain(table: t, name: "a"))
        tx.add(rule: NFTRule(table: t, chain: "a", expressions: [.verdict(.jump("missing-chain"))], comment: "bad jump"))
        do {
            try nft.commit(tx)
            Issue.record("commit should fail")
        } catch let error as NFTablesError {
            #expect(error.operationIndex == 2)
            #expect(error.errno == ENOENT)
            #expect(error.description.contains("add rule ip swiftlet-test a"))
            #expect(error.description.contains("bad jump"))
        }
        // All-or-nothing: the table of the refused batch does not exist.
        #expect(try nft.listTables().isEmpty)
    }

    @Test func deletingAMissingChainIsReportedPrecisely() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        let nft = try NFTables(networkNamespace: ns.path)
        var tx = NFTTransaction()
        tx.add(table: t)
        tx.delete(chain: "nope", in: t)
        #expect(throws: NFTablesError.self) { try nft.commit(tx) }
        do { try nft.commit(tx) } catch let error as NFTablesError {
            #expect(error.operation == "delete chain ip swiftlet-test nope")
        }
    }
}
