import CSystemLibs
import Glibc

/// Thin owners of libnftnl objects, alive only while one message is built.
enum NFTNLError: Error, CustomStringConvertible {
    case allocationFailed(String)
    case invalid(String)

    var description: String {
        switch self {
        case .allocationFailed(let what): return "libnftnl: cannot allocate \(what)"
        case .invalid(let what): return "nftables: \(what)"
        }
    }
}

@inline(__always) func attr(_ value: UInt32) -> UInt16 { UInt16(truncatingIfNeeded: value) }
@inline(__always) func attr(_ value: Int) -> UInt16 { UInt16(truncatingIfNeeded: value) }

/// Names must fit the kernel's NFT_NAME_MAXLEN (256 including the terminating zero).
func checkName(_ name: String, _ what: String) throws {
    if name.isEmpty || name.utf8.count > 255 {
        throw NFTNLError.invalid("\(what) name '\(name.prefix(40))...' must be 1-255 bytes")
    }
}

struct NFTNLTable {
    let raw: OpaquePointer

    init(_ ref: NFTTableRef) throws {
        try checkName(ref.name, "table")
        guard let t = nftnl_table_alloc() else { throw NFTNLError.allocationFailed("table") }
        raw = t
        nftnl_table_set_str(t, attr(NFTNL_TABLE_NAME.rawValue), ref.name)
        nftnl_table_set_u32(t, attr(NFTNL_TABLE_FAMILY.rawValue), UInt32(ref.family.rawValue))
    }

    func free() { nftnl_table_free(raw) }
}

struct NFTNLChain {
    let raw: OpaquePointer

    init(_ chain: NFTChain) throws {
        try checkName(chain.name, "chain")
        guard let c = nftnl_chain_alloc() else { throw NFTNLError.allocationFailed("chain") }
        raw = c
        nftnl_chain_set_str(c, attr(NFTNL_CHAIN_TABLE.rawValue), chain.table.name)
        nftnl_chain_set_str(c, attr(NFTNL_CHAIN_NAME.rawValue), chain.name)
        if let base = chain.base {
            nftnl_chain_set_u32(c, attr(NFTNL_CHAIN_HOOKNUM.rawValue), base.hook.rawValue)
            nftnl_chain_set_s32(c, attr(NFTNL_CHAIN_PRIO.rawValue), base.priority)
            nftnl_chain_set_str(c, attr(NFTNL_CHAIN_TYPE.rawValue), base.type.rawValue)
            nftnl_chain_set_u32(c, attr(NFTNL_CHAIN_POLICY.rawValue), base.policy.rawValue)
        }
    }

    func free() { nftnl_chain_free(raw) }
}

struct NFTNLRule {
    let raw: OpaquePointer

    init(table: NFTTableRef, chain: String?) throws {
        guard let r = nftnl_rule_alloc() else { throw NFTNLError.allocationFailed("rule") }
        raw = r
        nftnl_rule_set_str(r, attr(NFTNL_RULE_TABLE.rawValue), table.name)
        if let chain { nftnl_rule_set_str(r, attr(NFTNL_RULE_CHAIN.rawValue), chain) }
    }

    func free() { nftnl_rule_free(raw) }

    /// Stores the comment as nft does: a user-data TLV of type NFTNL_UDATA_RULE_COMMENT (0).
    func setComment(_ comment: String) {
        var tlv: [UInt8] = [0, 0]
        let bytes = Array(comment.utf8.prefix(250)) + [0]
        tlv[1] = UInt8(bytes.count)
        tlv.append(contentsOf: bytes)
        tlv.withUnsafeBytes { _ = nftnl_rule_set_data(raw, attr(NFTNL_RULE_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
    }

    func add(expressions: [NFTExpression], anonymousIDs: [UInt32], family: NFTFamily) throws {
        var anonymous = anonymousIDs.makeIterator()
        for expression in expressions {
            let e = try NFTNLExpression.make(expression, family: family, anonymousID: &anonymous)
            nftnl_rule_add_expr(raw, e)
        }
    }
}

struct NFTNLSet {
    let raw: OpaquePointer
    /// The name pattern the kernel fills in for anonymous sets (`__map0`, `__map1`, ...).
    static let anonymousName = "__map%d"

    init(ref: NFTSetRef) throws {
        guard let s = nftnl_set_alloc() else { throw NFTNLError.allocationFailed("set") }
        raw = s
        nftnl_set_set_str(s, attr(NFTNL_SET_TABLE.rawValue), ref.table.name)
        nftnl_set_set_str(s, attr(NFTNL_SET_NAME.rawValue), ref.name)
        nftnl_set_set_u32(s, attr(NFTNL_SET_FAMILY.rawValue), UInt32(ref.table.family.rawValue))
    }

    init(_ set: NFTSet, id: UInt32? = nil) throws {
        if set.name != Self.anonymousName { try checkName(set.name, "set") }
        try self.init(ref: NFTSetRef(table: set.table, name: set.name))
        let flags = set.kernelFlags
        nftnl_set_set_u32(raw, attr(NFTNL_SET_FLAGS.rawValue), flags.rawValue)
        nftnl_set_set_u32(raw, attr(NFTNL_SET_KEY_TYPE.rawValue), set.keyType.id)
        nftnl_set_set_u32(raw, attr(NFTNL_SET_KEY_LEN.rawValue), set.keyType.length)
        if let data = set.dataType {
            nftnl_set_set_u32(raw, attr(NFTNL_SET_DATA_TYPE.rawValue), data.id)
            if data != .verdict { nftnl_set_set_u32(raw, attr(NFTNL_SET_DATA_LEN.rawValue), data.length) }
        }
        if let timeout = set.timeoutMilliseconds { nftnl_set_set_u64(raw, attr(NFTNL_SET_TIMEOUT.rawValue), timeout) }
        if let id { nftnl_set_set_u32(raw, attr(NFTNL_SET_ID.rawValue), id) }
        // nft's user data: key (type 0) and data (type 1) byte order, 1 = host endian.
        var udata: [UInt8] = []
        if set.keyType.hostByteOrder { udata += [0, 4] + NFTBytes.u32Host(1) }
        if let data = set.dataType, data.hostByteOrder { udata += [1, 4] + NFTBytes.u32Host(1) }
        if !udata.isEmpty {
            udata.withUnsafeBytes { _ = nftnl_set_set_data(raw, attr(NFTNL_SET_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
        }
        if flags.contains(.interval) && set.keyType.fieldLengths.count > 1 {
            var fields = [UInt8](repeating: 0, count: 16)
            for (i, len) in set.keyType.fieldLengths.prefix(16).enumerated() { fields[i] = UInt8(truncatingIfNeeded: len) }
            fields.withUnsafeBytes { _ = nftnl_set_set_data(raw, attr(NFTNL_SET_DESC_CONCAT.rawValue), $0.baseAddress, UInt32($0.count)) }
        }
    }

    func free() { nftnl_set_free(raw) }

    static func estimatedSize(of element: NFTSetElement) -> Int {
        var size = 16 + element.key.count + 12
        if let end = element.keyEnd { size += 2 * (end.count + 12) + 8 }
        switch element.value {
        case .verdict(let v): size += 24 + (v.chain?.utf8.count ?? 0)
        case .data(let d): size += 12 + d.count
        case nil: break
        }
        if element.timeoutMilliseconds != nil { size += 12 }
        return size
    }

    func add(element: NFTSetElement, interval: NFTTransaction.IntervalEncoding) throws {
        guard let e = nftnl_set_elem_alloc() else { throw NFTNLError.allocationFailed("set element") }
        element.key.withUnsafeBytes { _ = nftnl_set_elem_set(e, attr(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count)) }
        if interval == .keyEnd, let end = element.keyEnd {
            end.withUnsafeBytes { _ = nftnl_set_elem_set(e, attr(NFTNL_SET_ELEM_KEY_END), $0.baseAddress, UInt32($0.count)) }
        }
        switch element.value {
        case .verdict(let v):
            nftnl_set_elem_set_u32(e, attr(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: v.code))
            if let chain = v.chain {
                try checkName(chain, "chain")
                nftnl_set_elem_set_str(e, attr(NFTNL_SET_ELEM_CHAIN), chain)
            }
        case .data(let d):
            d.withUnsafeBytes { _ = nftnl_set_elem_set(e, attr(NFTNL_SET_ELEM_DATA), $0.baseAddress, UInt32($0.count)) }
        case nil: break
        }
        if let t = element.timeoutMilliseconds { nftnl_set_elem_set_u64(e, attr(NFTNL_SET_ELEM_TIMEOUT), t) }
        nftnl_set_elem_add(raw, e)
        // A single-field range ends with a second element one past the last key.
        if interval == .endElement, let last = element.keyEnd, let next = Self.increment(last) {
            guard let endElement = nftnl_set_elem_alloc() else { throw NFTNLError.allocationFailed("set element") }
            next.withUnsafeBytes { _ = nftnl_set_elem_set(endElement, attr(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count)) }
            nftnl_set_elem_set_u32(endElement, attr(NFTNL_SET_ELEM_FLAGS), 1)  // NFT_SET_ELEM_INTERVAL_END
            nftnl_set_elem_add(raw, endElement)
        }
    }

    /// Big-endian increment; nil when the key is all ones (the range runs to the end).
    static func increment(_ bytes: [UInt8]) -> [UInt8]? {
        var out = bytes
        var i = out.count - 1
        while i >= 0 {
            if out[i] == 0xff { out[i] = 0; i -= 1 } else { out[i] += 1; return out }
        }
        return nil
    }
}

enum NFTNLExpression {
    static func make(_ expression: NFTExpression, family: NFTFamily, anonymousID: inout IndexingIterator<[UInt32]>) throws -> OpaquePointer {
        func alloc(_ name: String) throws -> OpaquePointer {
            guard let e = nftnl_expr_alloc(name) else { throw NFTNLError.allocationFailed("expression \(name)") }
            return e
        }
        func setBytes(_ e: OpaquePointer, _ type: Int, _ bytes: [UInt8]) {
            bytes.withUnsafeBytes { _ = nftnl_expr_set(e, UInt16(type), $0.baseAddress, UInt32($0.count)) }
        }
        switch expression {
        case .payload(let base, let offset, let length, let reg):
            let e = try alloc("payload")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_BASE), base.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_OFFSET), offset)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_LEN), length)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_PAYLOAD_DREG), reg.rawValue)
            return e
        case .meta(let key, let reg):
            let e = try alloc("meta")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_KEY), key.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_DREG), reg.rawValue)
            return e
        case .metaSet(let key, let reg):
            let e = try alloc("meta")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_KEY), key.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_META_SREG), reg.rawValue)
            return e
        case .cmp(let op, let reg, let data):
            let e = try alloc("cmp")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CMP_SREG), reg.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CMP_OP), op.rawValue)
            setBytes(e, NFTNL_EXPR_CMP_DATA, data)
            return e
        case .bitwise(let source, let dest, let mask, let xor):
            guard mask.count == xor.count, !mask.isEmpty else { throw NFTNLError.invalid("bitwise mask and xor must have the same non-zero length") }
            let e = try alloc("bitwise")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_BITWISE_SREG), source.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_BITWISE_DREG), dest.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_BITWISE_LEN), UInt32(mask.count))
            setBytes(e, NFTNL_EXPR_BITWISE_MASK, mask)
            setBytes(e, NFTNL_EXPR_BITWISE_XOR, xor)
            return e
        case .lookup(let set, let source, let dest, let invert):
            let e = try alloc("lookup")
            nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_LOOKUP_SET), set)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_SREG), source.rawValue)
            if let dest { nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_DREG), dest.rawValue) }
            if invert { nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_FLAGS), 1) }
            return e
        case .lookupAnonymous(_, let source, let dest):
            guard let id = anonymousID.next() else { throw NFTNLError.invalid("anonymous set without an id") }
            let e = try alloc("lookup")
            nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_LOOKUP_SET), NFTNLSet.anonymousName)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_SET_ID), id)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_SREG), source.rawValue)
            if let dest { nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_LOOKUP_DREG), dest.rawValue) }
            return e
        case .numgen(let type, let modulus, let offset, let reg):
            guard modulus > 0 else { throw NFTNLError.invalid("numgen modulus must be positive") }
            let e = try alloc("numgen")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_NG_TYPE), type.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_NG_MODULUS), modulus)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_NG_OFFSET), offset)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_NG_DREG), reg.rawValue)
            return e
        case .ct(let key, let direction, let reg):
            let e = try alloc("ct")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CT_KEY), key.rawValue)
            if let direction { nftnl_expr_set_u8(e, UInt16(NFTNL_EXPR_CT_DIR), direction) }
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_CT_DREG), reg.rawValue)
            return e
        case .immediate(let data, let reg):
            let e = try alloc("immediate")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_IMM_DREG), reg.rawValue)
            setBytes(e, NFTNL_EXPR_IMM_DATA, data)
            return e
        case .verdict(let verdict):
            let e = try alloc("immediate")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_IMM_DREG), NFTRegister.verdict.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: verdict.code))
            if let chain = verdict.chain {
                try checkName(chain, "chain")
                nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_IMM_CHAIN), chain)
            }
            return e
        case .nat(let type, let natFamily, let address, let port, let flags):
            let e = try alloc("nat")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_NAT_TYPE), type.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_NAT_FAMILY), UInt32(natFamily.rawValue))
            if let address { nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_NAT_REG_ADDR_MIN), address.rawValue) }
            if let port { nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_NAT_REG_PROTO_MIN), port.rawValue) }
            if flags != 0 { nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_NAT_FLAGS), flags) }
            return e
        case .masquerade(let flags):
            let e = try alloc("masq")
            if flags != 0 { nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_MASQ_FLAGS), flags) }
            return e
        case .reject(let reject):
            let e = try alloc("reject")
            switch reject {
            case .icmpUnreachable(let code):
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_REJECT_TYPE), 0)
                nftnl_expr_set_u8(e, UInt16(NFTNL_EXPR_REJECT_CODE), code)
            case .tcpReset:
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_REJECT_TYPE), 1)
                nftnl_expr_set_u8(e, UInt16(NFTNL_EXPR_REJECT_CODE), 0)
            case .icmpxUnreachable(let code):
                nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_REJECT_TYPE), 2)
                nftnl_expr_set_u8(e, UInt16(NFTNL_EXPR_REJECT_CODE), code)
            }
            return e
        case .counter:
            return try alloc("counter")
        case .dynset(let op, let set, let key, let timeout):
            let e = try alloc("dynset")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_DYNSET_OP), op.rawValue)
            nftnl_expr_set_str(e, UInt16(NFTNL_EXPR_DYNSET_SET_NAME), set)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_DYNSET_SREG_KEY), key.rawValue)
            if let timeout { nftnl_expr_set_u64(e, UInt16(NFTNL_EXPR_DYNSET_TIMEOUT), timeout) }
            return e
        case .fib(let result, let flags, let reg):
            let e = try alloc("fib")
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_FIB_RESULT), result.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_FIB_FLAGS), flags.rawValue)
            nftnl_expr_set_u32(e, UInt16(NFTNL_EXPR_FIB_DREG), reg.rawValue)
            return e
        }
    }
}
