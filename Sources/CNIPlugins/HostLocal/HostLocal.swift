import CNI
import LinuxNetlink
import LinuxPrimitives

/// `swiftlet-host-local`: IPAM from local ranges, state in files (see `AllocationStore`).
/// One address per range set per attachment, handed out round-robin after the last one
/// given, so a just-released address is not reused at once.
public struct HostLocalPlugin: CNIPlugin {
    public init() {}

    public func add(_ request: PluginRequest) throws -> CNIResult {
        let config = try HostLocalConfig(config: request.config)
        let requested = try requestedAddresses(request)
        let store = try AllocationStore(dataDir: config.dataDir, network: config.networkName)
        defer { store.close() }
        var result = CNIResult(cniVersion: request.cniVersion)
        var reserved: [IPAddress] = []
        do {
            let held = try store.addresses(containerID: request.containerID, ifname: request.ifname)
            for (setIndex, set) in config.rangeSets.enumerated() {
                if let already = held.first(where: { address in set.contains { $0.contains(address) } }) {
                    // The spec forbids a second ADD without DEL for the same attachment.
                    throw CNIError.generic("\(already) has been allocated to \(request.containerID), duplicate allocation is not allowed")
                }
                let (address, range) = try allocate(from: set, index: setIndex, requested: requested, store: store, request: request)
                reserved.append(address)
                // Force unwrap safe: the range's subnet prefix is valid for its own family.
                result.ips.append(CNIResult.IPConfig(address: IPNetwork(address: address, prefixLength: range.subnet.prefixLength)!,
                                                     gateway: range.gateway))
            }
            if let unmatched = requested.first(where: { address in !config.rangeSets.contains { set in set.contains { $0.contains(address) } } }) {
                throw CNIError.config("requested address \(unmatched) is not in any configured range")
            }
        } catch {
            for address in reserved { try? store.release(address) }
            throw error
        }
        result.routes = config.routes
        if let path = config.resolvConf {
            do {
                result.dns = ResolvConf.parse(try FileSystem.readString(path))
            } catch {
                throw CNIError.io("cannot read resolvConf \(path)", details: "\(error)")
            }
        }
        return result
    }

    public func del(_ request: PluginRequest) throws {
        let config = try HostLocalConfig(config: request.config)
        let store = try AllocationStore(dataDir: config.dataDir, network: config.networkName)
        defer { store.close() }
        try store.release(containerID: request.containerID, ifname: request.ifname)
    }

    public func check(_ request: PluginRequest) throws {
        let config = try HostLocalConfig(config: request.config)
        let store = try AllocationStore(dataDir: config.dataDir, network: config.networkName)
        defer { store.close() }
        let held = try store.addresses(containerID: request.containerID, ifname: request.ifname)
        guard !held.isEmpty else {
            throw CNIError.generic("host-local: failed to find an address allocated to container \(request.containerID) (\(request.ifname))")
        }
        if let previous = request.prevResult {
            for ip in previous.ips where config.rangeSets.contains(where: { set in set.contains { $0.contains(ip.address.address) } }) {
                guard held.contains(ip.address.address) else {
                    throw CNIError.generic("host-local: \(ip.address.address) in prevResult is not allocated to container \(request.containerID)")
                }
            }
        }
    }

    /// Ready while every range set still has a free address (error 50 otherwise).
    public func status(_ request: PluginRequest) throws {
        let config = try HostLocalConfig(config: request.config)
        let store = try AllocationStore(dataDir: config.dataDir, network: config.networkName)
        defer { store.close() }
        for (index, set) in config.rangeSets.enumerated() where firstFree(in: set, index: index, store: store) == nil {
            throw CNIError(code: CNIError.pluginNotAvailable, msg: "no IP addresses available in range set \(rangeSetDescription(set))")
        }
    }

    /// Releases every allocation whose (container ID, ifname) is not a valid attachment.
    public func gc(_ request: PluginRequest) throws {
        let config = try HostLocalConfig(config: request.config)
        let valid = try validAttachments(request)
        let store = try AllocationStore(dataDir: config.dataDir, network: config.networkName)
        defer { store.close() }
        for allocation in try store.allocations() {
            let keep = valid.contains { $0.0 == allocation.containerID && (allocation.ifname == nil || $0.1 == allocation.ifname) }
            if !keep { try store.release(allocation.address) }
        }
    }

    // MARK: allocation

    func allocate(from set: [IPRange], index: Int, requested: [IPAddress], store: AllocationStore,
                  request: PluginRequest) throws -> (IPAddress, IPRange) {
        if let wanted = requested.first(where: { address in set.contains { $0.contains(address) } }) {
            // Force unwrap safe: `wanted` was just found inside one of the set's ranges.
            let range = set.first { $0.contains(wanted) }!
            guard wanted != range.gateway else { throw CNIError.config("requested address \(wanted) is the gateway") }
            guard try store.reserve(wanted, containerID: request.containerID, ifname: request.ifname, rangeSet: index) else {
                throw CNIError.generic("requested IP address \(wanted) is not available in range set \(rangeSetDescription(set))")
            }
            return (wanted, range)
        }
        var cursor = Cursor(set: set, after: store.lastReserved(rangeSet: index))
        while let (address, range) = cursor.next() {
            if address == range.gateway || store.isReserved(address) { continue }
            if try store.reserve(address, containerID: request.containerID, ifname: request.ifname, rangeSet: index) {
                return (address, range)
            }
        }
        // Addresses come back when pods go, so the runtime may retry later.
        throw CNIError(code: CNIError.tryAgainLater, msg: "no IP addresses available in range set: \(rangeSetDescription(set))",
                       details: "allocations are recorded in \(store.directory)")
    }

    func firstFree(in set: [IPRange], index: Int, store: AllocationStore) -> IPAddress? {
        var cursor = Cursor(set: set, after: store.lastReserved(rangeSet: index))
        while let (address, range) = cursor.next() {
            if address != range.gateway && !store.isReserved(address) { return address }
        }
        return nil
    }

    func rangeSetDescription(_ set: [IPRange]) -> String {
        set.map(\.description).joined(separator: ",")
    }

    /// Walks every address of a range set once, starting after `after` when it lies in the
    /// set (round-robin), wrapping around to the set's first address.
    struct Cursor {
        let set: [IPRange]
        var rangeIndex: Int
        var current: IPAddress?
        var remaining: Int64

        init(set: [IPRange], after: IPAddress?) {
            self.set = set
            var total: Int64 = 0
            for range in set {
                let span = IPRange.span(range.rangeStart, range.rangeEnd)
                total = total.addingReportingOverflow(span).overflow ? Int64.max : total + span
            }
            remaining = total
            if let after, let index = set.firstIndex(where: { $0.contains(after) }) {
                rangeIndex = index
                current = after
            } else {
                rangeIndex = 0
                current = nil
            }
        }

        mutating func next() -> (IPAddress, IPRange)? {
            guard remaining > 0, !set.isEmpty else { return nil }
            remaining -= 1
            if let position = current, position < set[rangeIndex].rangeEnd, let following = position.advanced(by: 1) {
                current = following
            } else if current == nil {
                current = set[rangeIndex].rangeStart
            } else {
                rangeIndex = (rangeIndex + 1) % set.count
                current = set[rangeIndex].rangeStart
            }
            // Force unwrap safe: every branch above sets `current`.
            return (current!, set[rangeIndex])
        }
    }

    // MARK: request details

    /// Specific addresses asked for through CNI_ARGS `IP=a,b` or `runtimeConfig.ips`.
    func requestedAddresses(_ request: PluginRequest) throws -> [IPAddress] {
        var texts: [String] = []
        if let ip = request.arg("IP") { texts += ip.split(separator: ",").map(String.init) }
        if let ips = request.runtimeConfig("ips")?.arrayValue {
            texts += ips.compactMap(\.stringValue)
        }
        return try texts.map { text in
            let bare = text.split(separator: "/").first.map(String.init) ?? text
            guard let address = IPAddress(bare) else { throw CNIError.config("requested IP \"\(text)\" is not an IP address") }
            return address
        }
    }

    /// `cni.dev/valid-attachments` (and the older `cni.dev/attachments` spelling libcni also sends).
    func validAttachments(_ request: PluginRequest) throws -> [(String, String)] {
        let key = request.config.has("cni.dev/valid-attachments") ? "cni.dev/valid-attachments" : "cni.dev/attachments"
        guard let list = try request.config.array(key) else {
            throw CNIError.config("GC needs cni.dev/valid-attachments")
        }
        return try list.enumerated().map { index, item in
            let fields = try ConfigFields(item, path: "\(key)[\(index)]")
            return (try fields.requiredString("containerID"), try fields.requiredString("ifname"))
        }
    }
}

extension IPRange {
    /// Number of addresses from `start` to `end` inclusive, saturating.
    static func span(_ start: IPAddress, _ end: IPAddress) -> Int64 {
        switch (start, end) {
        case (.v4(let a), .v4(let b)): return Int64(b) - Int64(a) + 1
        case (.v6(let ah, let al), .v6(let bh, let bl)):
            if bh != ah { return Int64.max }
            let difference = bl &- al
            return difference >= UInt64(Int64.max) ? Int64.max : Int64(difference) + 1
        default: return 0
        }
    }
}
