import CSystemLibs
import Glibc

/// Turns an `NFTTransaction` into one contiguous nfnetlink batch (BATCH_BEGIN, the messages,
/// BATCH_END) with libnftnl, remembering which operation each message came from so a kernel
/// error can name the object it refused.
struct NFTBatchEncoder {
    /// The encoded batch; freed by `deallocate()`.
    let buffer: MessageBuffer
    /// Sequence number of the BATCH_BEGIN message; message i has `firstSequence + i`.
    let firstSequence: UInt32
    /// For each message after BATCH_BEGIN: the index of the operation it encodes (-1 for the end).
    let operationOfMessage: [Int32]

    static func encode(_ transaction: NFTTransaction, firstSequence: UInt32) throws -> NFTBatchEncoder {
        let buffer = MessageBuffer()
        buffer.append { nftnl_batch_begin($0, firstSequence) }
        var emit = Emitter(buffer: buffer, seq: firstSequence, map: [], index: 0)
        emit.map.reserveCapacity(transaction.count + 16)
        var anonymousID: UInt32 = 0
        for (index, op) in transaction.operations.enumerated() {
            emit.index = Int32(index)
            try encode(op, into: &emit, anonymousID: &anonymousID)
        }
        let endSeq = emit.seq &+ 1
        emit.map.append(-1)
        buffer.append { nftnl_batch_end($0, endSeq) }
        return NFTBatchEncoder(buffer: buffer, firstSequence: firstSequence, operationOfMessage: emit.map)
    }

    func deallocate() { buffer.deallocate() }

    /// Which operation a message sequence number belongs to (nil: the batch itself).
    func operationIndex(forSequence sequence: UInt32) -> Int? {
        let offset = Int(sequence &- firstSequence) - 1
        guard offset >= 0, offset < operationOfMessage.count else { return nil }
        let op = operationOfMessage[offset]
        return op >= 0 ? Int(op) : nil
    }

    /// Appends messages for one operation, numbering them.
    struct Emitter {
        let buffer: MessageBuffer
        var seq: UInt32
        var map: [Int32]
        var index: Int32

        mutating func message(_ type: UInt32, family: NFTFamily, flags: Int32, _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void) {
            seq &+= 1
            map.append(index)
            let s = seq
            buffer.append { buf in
                let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(type), UInt16(family.rawValue), UInt16(flags), s)!
                payload(nlh)
                return nlh
            }
        }
    }

    private static let create = Int32(NLM_F_CREATE)
    private static let append = Int32(NLM_F_APPEND)

    private static func encode(_ op: NFTTransaction.Operation, into e: inout Emitter, anonymousID: inout UInt32) throws {
        switch op {
        case .addTable(let t):
            let table = try NFTNLTable(t)
            defer { table.free() }
            e.message(NFT_MSG_NEWTABLE.rawValue, family: t.family, flags: create) { nftnl_table_nlmsg_build_payload($0, table.raw) }
        case .deleteTable(let t):
            let table = try NFTNLTable(t)
            defer { table.free() }
            e.message(NFT_MSG_DELTABLE.rawValue, family: t.family, flags: 0) { nftnl_table_nlmsg_build_payload($0, table.raw) }
        case .flushTable(let t):
            let rule = try NFTNLRule(table: t, chain: nil)
            defer { rule.free() }
            e.message(NFT_MSG_DELRULE.rawValue, family: t.family, flags: 0) { nftnl_rule_nlmsg_build_payload($0, rule.raw) }
        case .addChain(let c):
            let chain = try NFTNLChain(c)
            defer { chain.free() }
            e.message(NFT_MSG_NEWCHAIN.rawValue, family: c.table.family, flags: create) { nftnl_chain_nlmsg_build_payload($0, chain.raw) }
        case .deleteChain(let t, let name):
            let chain = try NFTNLChain(NFTChain(table: t, name: name))
            defer { chain.free() }
            e.message(NFT_MSG_DELCHAIN.rawValue, family: t.family, flags: 0) { nftnl_chain_nlmsg_build_payload($0, chain.raw) }
        case .flushChain(let t, let name):
            let rule = try NFTNLRule(table: t, chain: name)
            defer { rule.free() }
            e.message(NFT_MSG_DELRULE.rawValue, family: t.family, flags: 0) { nftnl_rule_nlmsg_build_payload($0, rule.raw) }
        case .addRule(let r):
            // Anonymous sets first: the rule refers to them by transaction-local id.
            var anonymous: [UInt32] = []
            for case .lookupAnonymous(let set, _, _) in r.expressions {
                anonymousID &+= 1
                anonymous.append(anonymousID)
                try encodeAnonymousSet(set, id: anonymousID, table: r.table, into: &e)
            }
            let rule = try NFTNLRule(table: r.table, chain: r.chain)
            defer { rule.free() }
            try rule.add(expressions: r.expressions, anonymousIDs: anonymous, family: r.table.family)
            if let comment = r.comment { rule.setComment(comment) }
            e.message(NFT_MSG_NEWRULE.rawValue, family: r.table.family, flags: create | append) { nftnl_rule_nlmsg_build_payload($0, rule.raw) }
        case .deleteRule(let t, let chain, let handle):
            let rule = try NFTNLRule(table: t, chain: chain)
            defer { rule.free() }
            nftnl_rule_set_u64(rule.raw, UInt16(NFTNL_RULE_HANDLE.rawValue), handle)
            e.message(NFT_MSG_DELRULE.rawValue, family: t.family, flags: 0) { nftnl_rule_nlmsg_build_payload($0, rule.raw) }
        case .addSet(let s):
            // The kernel requires a transaction-local id on every new set.
            anonymousID &+= 1
            let set = try NFTNLSet(s, id: anonymousID)
            defer { set.free() }
            e.message(NFT_MSG_NEWSET.rawValue, family: s.table.family, flags: create) { nftnl_set_nlmsg_build_payload($0, set.raw) }
        case .deleteSet(let s):
            let set = try NFTNLSet(ref: s)
            defer { set.free() }
            e.message(NFT_MSG_DELSET.rawValue, family: s.table.family, flags: 0) { nftnl_set_nlmsg_build_payload($0, set.raw) }
        case .flushSet(let s):
            let set = try NFTNLSet(ref: s)
            defer { set.free() }
            e.message(NFT_MSG_DELSETELEM.rawValue, family: s.table.family, flags: 0) { nftnl_set_elems_nlmsg_build_payload($0, set.raw) }
        case .addElements(let s, let elements, let interval):
            try encodeElements(NFT_MSG_NEWSETELEM.rawValue, ref: s, setID: nil, elements, interval, flags: create, into: &e)
        case .deleteElements(let s, let elements, let interval):
            try encodeElements(NFT_MSG_DELSETELEM.rawValue, ref: s, setID: nil, elements, interval, flags: 0, into: &e)
        }
    }

    private static func encodeAnonymousSet(_ anon: NFTAnonymousSet, id: UInt32, table: NFTTableRef, into e: inout Emitter) throws {
        var flags = anon.flags.union([.anonymous, .constant])
        if anon.dataType != nil { flags.insert(.map) }
        let def = NFTSet(table: table, name: NFTNLSet.anonymousName, keyType: anon.keyType, dataType: anon.dataType, flags: flags)
        let set = try NFTNLSet(def, id: id)
        defer { set.free() }
        e.message(NFT_MSG_NEWSET.rawValue, family: table.family, flags: create) { nftnl_set_nlmsg_build_payload($0, set.raw) }
        let interval: NFTTransaction.IntervalEncoding = flags.contains(.interval) ? (anon.keyType.fieldLengths.count > 1 ? .keyEnd : .endElement) : .none
        try encodeElements(NFT_MSG_NEWSETELEM.rawValue, ref: NFTSetRef(table: table, name: NFTNLSet.anonymousName),
                           setID: id, anon.elements, interval, flags: create, into: &e)
    }

    /// Element lists go out in chunks: a netlink attribute nest cannot exceed 64 KiB.
    private static func encodeElements(_ type: UInt32, ref: NFTSetRef, setID: UInt32?, _ elements: [NFTSetElement],
                                       _ interval: NFTTransaction.IntervalEncoding, flags: Int32, into e: inout Emitter) throws {
        var start = 0
        while start < elements.count {
            var budget = 0
            var end = start
            while end < elements.count {
                let size = NFTNLSet.estimatedSize(of: elements[end])
                if end > start && budget + size > 48_000 { break }
                budget += size
                end += 1
            }
            let set = try NFTNLSet(ref: ref)
            defer { set.free() }
            if let setID { nftnl_set_set_u32(set.raw, UInt16(NFTNL_SET_ID.rawValue), setID) }
            for element in elements[start..<end] { try set.add(element: element, interval: interval) }
            e.message(type, family: ref.table.family, flags: flags) { nftnl_set_elems_nlmsg_build_payload($0, set.raw) }
            start = end
        }
    }
}

/// A growable, contiguous buffer for a netlink batch: every message is built in place, and the
/// whole batch goes to the kernel in one `sendto`.
final class MessageBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var length = 0
    /// Room guaranteed for one message: libnftnl writes attributes without bounds checks.
    static let messageReserve = 96 * 1024

    init(capacity: Int = 1 << 20) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    func deallocate() { base.deallocate() }

    func append(_ build: (UnsafeMutablePointer<CChar>) -> UnsafeMutablePointer<nlmsghdr>?) {
        if length + Self.messageReserve > capacity {
            var newCapacity = capacity * 2
            while length + Self.messageReserve > newCapacity { newCapacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            grown.copyMemory(from: base, byteCount: length)
            base.deallocate()
            base = grown
            capacity = newCapacity
        }
        let at = (base + length).bindMemory(to: CChar.self, capacity: Self.messageReserve)
        guard let nlh = build(at) else { return }
        length += (Int(nlh.pointee.nlmsg_len) + 3) & ~3
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }
}
