import LinuxNetlink

/// A chain or set of ours, named by family and name (the table is always ours).
struct ObjectKey: Sendable, Hashable, Comparable {
    let family: NFTFamily
    let name: String

    static func < (a: ObjectKey, b: ObjectKey) -> Bool { (a.family.rawValue, a.name) < (b.family.rawValue, b.name) }
}

/// The shared sets and maps services put elements in (see `BaseRuleset`).
enum SharedSet: UInt8, Sendable, Hashable, Comparable, CaseIterable {
    case serviceIPs, noEndpointServices, firewallIPs, serviceNodePorts, noEndpointNodePorts
    case clusterIPs, hairpin, nodePortIPs, serviceEndpoints, nodePortEndpoints

    var name: String {
        switch self {
        case .serviceIPs: return Names.serviceIPs
        case .noEndpointServices: return Names.noEndpointServices
        case .firewallIPs: return Names.firewallIPs
        case .serviceNodePorts: return Names.serviceNodePorts
        case .noEndpointNodePorts: return Names.noEndpointNodePorts
        case .clusterIPs: return Names.clusterIPs
        case .hairpin: return Names.hairpin
        case .nodePortIPs: return Names.nodePortIPs
        case .serviceEndpoints: return Names.serviceEndpoints
        case .nodePortEndpoints: return Names.nodePortEndpoints
        }
    }

    static func < (a: SharedSet, b: SharedSet) -> Bool { a.rawValue < b.rawValue }
}

/// Up to 40 bytes of an element key or value, held inline: a 10k-service table has a quarter
/// of a million elements, and an array per key would be a heap object per key.
struct ElementBytes: Sendable, Hashable {
    static let capacity = 40
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    private(set) var count: UInt8 = 0

    init() {}

    init(_ bytes: [UInt8]) { append(bytes) }

    /// Appends bytes; what does not fit is dropped (callers build keys of known sizes <= 40).
    mutating func append(_ bytes: [UInt8]) {
        withUnsafeMutableBytes(of: &words) { raw in
            for b in bytes where Int(count) < Self.capacity {
                raw[Int(count)] = b
                count += 1
            }
        }
    }

    /// Appends bytes and zero padding up to a 4-byte register boundary (nft's concatenations).
    mutating func appendPadded(_ bytes: [UInt8]) {
        append(bytes)
        let pad = (4 - bytes.count % 4) % 4
        count = UInt8(min(Self.capacity, Int(count) + pad))
    }

    mutating func appendHostU32(_ value: UInt32) { append(NFTBytes.u32Host(value)) }

    var array: [UInt8] { withUnsafeBytes(of: words) { Array($0.prefix(Int(count))) } }

    func starts(with prefix: ElementBytes) -> Bool { prefix.count <= count && array.starts(with: prefix.array) }

    static func == (a: ElementBytes, b: ElementBytes) -> Bool {
        a.count == b.count && a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2
            && a.words.3 == b.words.3 && a.words.4 == b.words.4
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        if count > 24 {
            hasher.combine(words.3)
            hasher.combine(words.4)
        }
    }

    /// `ADDRESS . proto . port` as `ip daddr . meta l4proto . th dport` loads it.
    static func addressProtoPort(_ address: [UInt8], proto: UInt8, port: UInt16) -> ElementBytes {
        var b = ElementBytes()
        b.append(address)
        b.appendPadded([proto])
        b.appendPadded(NFTBytes.u16Net(port))
        return b
    }

    /// `proto . port`.
    static func protoPort(proto: UInt8, port: UInt16) -> ElementBytes {
        var b = ElementBytes()
        b.appendPadded([proto])
        b.appendPadded(NFTBytes.u16Net(port))
        return b
    }
}

/// An element of one of our shared sets or maps.
struct ElementKey: Sendable, Hashable {
    let family: NFTFamily
    let set: SharedSet
    let key: ElementBytes
}

/// One endpoint of a dispatch entry: `ENTRY . slot : address . port` in the endpoint map.
struct EndpointSlot: Sendable, Hashable {
    let slot: UInt32
    let endpoint: ElementBytes
}

/// What an element holds: plain membership, a verdict, or data; or a dispatch entry, whose
/// verdict goes in the dispatch map and whose endpoints go in the endpoint map under the same
/// key plus their slot. Entry and slots are claimed (and won) together, so the slots in the
/// kernel always belong to the service the entry dispatches for.
enum ElementValue: Sendable, Hashable {
    case member
    case verdict(NFTVerdict)
    case data(ElementBytes)
    case dispatch(NFTVerdict, slots: [EndpointSlot])

    var nft: NFTSetElement.Value? {
        switch self {
        case .member: return nil
        case .verdict(let v), .dispatch(let v, _): return .verdict(v)
        case .data(let d): return .data(d.array)
        }
    }
}

extension SharedSet {
    /// Where the endpoint slots of this dispatch map's entries live.
    var endpointMap: SharedSet? {
        switch self {
        case .serviceIPs: return .serviceEndpoints
        case .serviceNodePorts: return .nodePortEndpoints
        default: return nil
        }
    }
}

extension ElementKey {
    /// The kernel elements behind one claimed element: itself, and for a dispatch entry its
    /// endpoint slots.
    func expand(_ value: ElementValue, _ emit: (ElementKey, ElementValue) -> Void) {
        guard case .dispatch(let verdict, let slots) = value, let map = set.endpointMap else {
            emit(self, value)
            return
        }
        emit(self, .verdict(verdict))
        for slot in slots { emit(ElementKey(family: family, set: map, key: PickChain.slotKey(key, slot: slot.slot)), .data(slot.endpoint)) }
    }

    func expand(_ value: ElementValue, into out: inout [ElementKey: ElementValue]) {
        expand(value) { out[$0] = $1 }
    }
}

/// Everything one Service contributes to the ruleset: its elements in the shared maps (which
/// others may also claim), the shared pick chains it uses, and the chains and sets of its own
/// that only ClientIP affinity and source ranges need. Comparing the fragment before and after
/// a change is the whole incremental sync.
struct Fragment: Sendable, Equatable {
    var chains: [ObjectKey: [NFTRule]] = [:]
    var sets: [ObjectKey: NFTSet] = [:]
    /// In the order the builder made them (deterministic); a key may repeat (a ClusterIP
    /// shared by two ports), the later value winning.
    var elements: [(key: ElementKey, value: ElementValue)] = []
    var picks: Set<PickChain> = []

    var isEmpty: Bool { chains.isEmpty && sets.isEmpty && elements.isEmpty }

    mutating func add(_ family: NFTFamily, _ set: SharedSet, _ key: ElementBytes, _ value: ElementValue) {
        elements.append((ElementKey(family: family, set: set, key: key), value))
    }

    /// The elements as a dictionary (for diffing).
    var elementMap: [ElementKey: ElementValue] {
        Dictionary(elements.map { ($0.key, $0.value) }, uniquingKeysWith: { _, later in later })
    }

    static func == (a: Fragment, b: Fragment) -> Bool {
        a.chains == b.chains && a.sets == b.sets && a.picks == b.picks
            && a.elements.count == b.elements.count && zip(a.elements, b.elements).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
