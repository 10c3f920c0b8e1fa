import CSystemLibs
import Glibc

/// A chain as the kernel reports it.
public struct NFTChainInfo: Sendable, Hashable {
    public let table: NFTTableRef
    public let name: String
    public let base: NFTChain.Base?
    public let handle: UInt64
    /// How many rules and map elements jump or go to it.
    public let use: UInt32
}

/// A set or map as the kernel reports it.
public struct NFTSetInfo: Sendable, Hashable {
    public let table: NFTTableRef
    public let name: String
    public let flags: NFTSetFlags
    public let keyType: UInt32
    public let keyLength: UInt32
    public let dataType: UInt32?
    public let timeoutMilliseconds: UInt64?
    public let handle: UInt64
}

/// A rule as the kernel reports it: enough to find it (its comment) and delete it (its handle).
public struct NFTRuleInfo: Sendable, Hashable {
    public let table: NFTTableRef
    public let chain: String
    public let handle: UInt64
    public let comment: String?
}

extension NFTables {
    /// Tables of one family (nil: all families).
    public func listTables(family: NFTFamily? = nil) throws -> [NFTTableRef] {
        var out: [NFTTableRef] = []
        try dump(NFT_MSG_GETTABLE.rawValue, family: family) { nlh in
            guard let t = nftnl_table_alloc() else { return }
            defer { nftnl_table_free(t) }
            guard nftnl_table_nlmsg_parse(nlh, t) >= 0, let name = nftnl_table_get_str(t, attr(NFTNL_TABLE_NAME.rawValue)),
                  let fam = NFTFamily(rawValue: UInt8(truncatingIfNeeded: nftnl_table_get_u32(t, attr(NFTNL_TABLE_FAMILY.rawValue))))
            else { return }
            out.append(NFTTableRef(family: fam, name: String(cString: name)))
        }
        return out
    }

    /// Chains of one table, in the kernel's order.
    public func listChains(in table: NFTTableRef) throws -> [NFTChainInfo] {
        var out: [NFTChainInfo] = []
        try dump(NFT_MSG_GETCHAIN.rawValue, family: table.family, table: table.name, attribute: NFTA_CHAIN_TABLE.rawValue) { nlh in
            guard let c = nftnl_chain_alloc() else { return }
            defer { nftnl_chain_free(c) }
            guard nftnl_chain_nlmsg_parse(nlh, c) >= 0,
                  let tname = nftnl_chain_get_str(c, attr(NFTNL_CHAIN_TABLE.rawValue)), String(cString: tname) == table.name,
                  let name = nftnl_chain_get_str(c, attr(NFTNL_CHAIN_NAME.rawValue)) else { return }
            var base: NFTChain.Base?
            if nftnl_chain_is_set(c, attr(NFTNL_CHAIN_HOOKNUM.rawValue)),
               let hook = NFTHook(rawValue: nftnl_chain_get_u32(c, attr(NFTNL_CHAIN_HOOKNUM.rawValue))) {
                let typeName = nftnl_chain_get_str(c, attr(NFTNL_CHAIN_TYPE.rawValue)).map { String(cString: $0) } ?? "filter"
                base = NFTChain.Base(type: NFTChainType(rawValue: typeName) ?? .filter, hook: hook,
                                     priority: nftnl_chain_get_s32(c, attr(NFTNL_CHAIN_PRIO.rawValue)),
                                     policy: NFTChainPolicy(rawValue: nftnl_chain_get_u32(c, attr(NFTNL_CHAIN_POLICY.rawValue))) ?? .accept)
            }
            out.append(NFTChainInfo(table: table, name: String(cString: name), base: base,
                                    handle: nftnl_chain_get_u64(c, attr(NFTNL_CHAIN_HANDLE.rawValue)),
                                    use: nftnl_chain_get_u32(c, attr(NFTNL_CHAIN_USE.rawValue))))
        }
        return out
    }

    /// Named sets and maps of one table (anonymous ones, which belong to rules, are left out).
    public func listSets(in table: NFTTableRef) throws -> [NFTSetInfo] {
        var out: [NFTSetInfo] = []
        try dump(NFT_MSG_GETSET.rawValue, family: table.family, table: table.name, attribute: NFTA_SET_TABLE.rawValue) { nlh in
            guard let s = nftnl_set_alloc() else { return }
            defer { nftnl_set_free(s) }
            guard nftnl_set_nlmsg_parse(nlh, s) >= 0,
                  let tname = nftnl_set_get_str(s, attr(NFTNL_SET_TABLE.rawValue)), String(cString: tname) == table.name,
                  let name = nftnl_set_get_str(s, attr(NFTNL_SET_NAME.rawValue)) else { return }
            let flags = NFTSetFlags(rawValue: nftnl_set_get_u32(s, attr(NFTNL_SET_FLAGS.rawValue)))
            if flags.contains(.anonymous) { return }
            out.append(NFTSetInfo(
                table: table, name: String(cString: name), flags: flags,
                keyType: nftnl_set_get_u32(s, attr(NFTNL_SET_KEY_TYPE.rawValue)),
                keyLength: nftnl_set_get_u32(s, attr(NFTNL_SET_KEY_LEN.rawValue)),
                dataType: nftnl_set_is_set(s, attr(NFTNL_SET_DATA_TYPE.rawValue)) ? nftnl_set_get_u32(s, attr(NFTNL_SET_DATA_TYPE.rawValue)) : nil,
                timeoutMilliseconds: nftnl_set_is_set(s, attr(NFTNL_SET_TIMEOUT.rawValue)) ? nftnl_set_get_u64(s, attr(NFTNL_SET_TIMEOUT.rawValue)) : nil,
                handle: nftnl_set_get_u64(s, attr(NFTNL_SET_HANDLE.rawValue))))
        }
        return out
    }

    /// Elements of a set or map (keys, values, remaining timeouts).
    public func listElements(of set: NFTSetRef) throws -> [NFTSetElement] {
        var out: [NFTSetElement] = []
        try exchangeDump(set.table.family, build: { nlh in
            guard let s = nftnl_set_alloc() else { return }
            defer { nftnl_set_free(s) }
            nftnl_set_set_str(s, attr(NFTNL_SET_TABLE.rawValue), set.table.name)
            nftnl_set_set_str(s, attr(NFTNL_SET_NAME.rawValue), set.name)
            nftnl_set_elems_nlmsg_build_payload(nlh, s)
        }, type: NFT_MSG_GETSETELEM.rawValue) { nlh in
            guard let s = nftnl_set_alloc() else { return }
            defer { nftnl_set_free(s) }
            guard nftnl_set_elems_nlmsg_parse(nlh, s) >= 0, let iter = nftnl_set_elems_iter_create(s) else { return }
            defer { nftnl_set_elems_iter_destroy(iter) }
            var e = nftnl_set_elems_iter_next(iter)
            while let elem = e {
                out.append(Self.element(elem))
                e = nftnl_set_elems_iter_next(iter)
            }
        }
        return out
    }

    /// Rules of a table (optionally of one chain) with their handles and comments.
    public func listRules(in table: NFTTableRef, chain: String? = nil) throws -> [NFTRuleInfo] {
        var out: [NFTRuleInfo] = []
        try exchangeDump(table.family, build: { nlh in
            guard let r = nftnl_rule_alloc() else { return }
            defer { nftnl_rule_free(r) }
            nftnl_rule_set_str(r, attr(NFTNL_RULE_TABLE.rawValue), table.name)
            if let chain { nftnl_rule_set_str(r, attr(NFTNL_RULE_CHAIN.rawValue), chain) }
            nftnl_rule_nlmsg_build_payload(nlh, r)
        }, type: NFT_MSG_GETRULE.rawValue) { nlh in
            guard let r = nftnl_rule_alloc() else { return }
            defer { nftnl_rule_free(r) }
            guard nftnl_rule_nlmsg_parse(nlh, r) >= 0,
                  let tname = nftnl_rule_get_str(r, attr(NFTNL_RULE_TABLE.rawValue)), String(cString: tname) == table.name,
                  let cname = nftnl_rule_get_str(r, attr(NFTNL_RULE_CHAIN.rawValue)) else { return }
            let chainName = String(cString: cname)
            if let chain, chain != chainName { return }
            var comment: String?
            var length: UInt32 = 0
            if nftnl_rule_is_set(r, attr(NFTNL_RULE_USERDATA.rawValue)),
               let data = nftnl_rule_get_data(r, attr(NFTNL_RULE_USERDATA.rawValue), &length) {
                comment = Self.udataComment(UnsafeRawBufferPointer(start: data, count: Int(length)))
            }
            out.append(NFTRuleInfo(table: table, chain: chainName,
                                   handle: nftnl_rule_get_u64(r, attr(NFTNL_RULE_HANDLE.rawValue)), comment: comment))
        }
        return out
    }

    static func udataComment(_ bytes: UnsafeRawBufferPointer) -> String? {
        var offset = 0
        while offset + 2 <= bytes.count {
            let type = bytes[offset], len = Int(bytes[offset + 1])
            guard offset + 2 + len <= bytes.count else { return nil }
            if type == 0 {
                return String(decoding: bytes[(offset + 2)..<(offset + 2 + len)].prefix { $0 != 0 }, as: UTF8.self)
            }
            offset += 2 + len
        }
        return nil
    }

    static func element(_ e: OpaquePointer) -> NFTSetElement {
        func bytes(_ type: Int) -> [UInt8]? {
            guard nftnl_set_elem_is_set(e, attr(type)) else { return nil }
            var length: UInt32 = 0
            guard let p = nftnl_set_elem_get(e, attr(type), &length) else { return nil }
            return Array(UnsafeRawBufferPointer(start: p, count: Int(length)))
        }
        var value: NFTSetElement.Value?
        if nftnl_set_elem_is_set(e, attr(NFTNL_SET_ELEM_VERDICT)) {
            let code = Int32(bitPattern: nftnl_set_elem_get_u32(e, attr(NFTNL_SET_ELEM_VERDICT)))
            let chain = nftnl_set_elem_get_str(e, attr(NFTNL_SET_ELEM_CHAIN)).map { String(cString: $0) } ?? ""
            switch code {
            case 1: value = .verdict(.accept)
            case 0: value = .verdict(.drop)
            case -1: value = .verdict(.continue)
            case -5: value = .verdict(.return)
            case -3: value = .verdict(.jump(chain))
            default: value = .verdict(.goto(chain))
            }
        } else if let data = bytes(NFTNL_SET_ELEM_DATA) {
            value = .data(data)
        }
        let expiration = nftnl_set_elem_is_set(e, attr(NFTNL_SET_ELEM_EXPIRATION))
            ? nftnl_set_elem_get_u64(e, attr(NFTNL_SET_ELEM_EXPIRATION)) : nil
        return NFTSetElement(key: bytes(NFTNL_SET_ELEM_KEY) ?? [], keyEnd: bytes(NFTNL_SET_ELEM_KEY_END),
                             value: value, timeoutMilliseconds: expiration)
    }

    private func dump(_ type: UInt32, family: NFTFamily?, table: String? = nil, attribute: UInt32 = 0,
                      _ parse: (UnsafePointer<nlmsghdr>) -> Void) throws {
        try exchangeDump(family, build: { nlh in
            if let table { mnl_attr_put_strz(nlh, UInt16(attribute), table) }
        }, type: type, parse)
    }

    /// Sends one dump request and hands every answer to `parse`; ENOENT (no such table or set)
    /// is reported as a thrown error naming what was asked.
    private func exchangeDump(_ family: NFTFamily?, build: (UnsafeMutablePointer<nlmsghdr>) -> Void, type: UInt32,
                              _ parse: (UnsafePointer<nlmsghdr>) -> Void) throws {
        let seq = nextSequences(1)
        let request = MessageBuffer(capacity: MessageBuffer.messageReserve * 2)
        defer { request.deallocate() }
        request.append { buf in
            let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(type), UInt16(family?.rawValue ?? 0), UInt16(NLM_F_DUMP | NLM_F_ACK), seq)!
            build(nlh)
            return nlh
        }
        try socket.exchange { io in
            try io.send(request.bytes)
            var failure: (Int32, String?)?
            try receive(io, until: seq) { message in
                if let info = message.errorInfo {
                    if info.errno != 0 { failure = (info.errno, info.message) }
                } else {
                    parse(message.header)
                }
            }
            if let failure {
                throw NFTablesError(operation: "list (message type \(type))", operationIndex: nil, errno: failure.0,
                                    kernelMessage: failure.1, otherFailures: 0)
            }
        }
    }
}
