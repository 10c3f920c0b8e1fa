import CNI
import LinuxNetlink

/// One allocatable range of a subnet (host-local's `ranges[i][j]`).
public struct IPRange: Sendable, Equatable {
    public var subnet: IPNetwork
    public var rangeStart: IPAddress
    public var rangeEnd: IPAddress
    public var gateway: IPAddress?

    public func contains(_ address: IPAddress) -> Bool {
        subnet.contains(address) && rangeStart <= address && address <= rangeEnd
    }

    public var description: String { "\(rangeStart)-\(rangeEnd)" }
}

/// host-local's IPAM section, with upstream's field names and defaults: `ranges` (a list of
/// range sets; one address is allocated from each set) or the older single-range form
/// (`subnet`, `rangeStart`, `rangeEnd`, `gateway`), plus `routes`, `dataDir`, `resolvConf`.
public struct HostLocalConfig: Sendable {
    public var networkName: String
    public var rangeSets: [[IPRange]]
    public var routes: [CNIResult.Route]
    public var dataDir: String
    public var resolvConf: String?

    public static let defaultDataDir = "/var/lib/cni/networks"

    /// Reads the `ipam` object of a plugin configuration (stdin), whose `name` is the network.
    public init(config: ConfigFields) throws(CNIError) {
        guard let ipam = try config.object("ipam") else { throw CNIError.config("ipam is required") }
        networkName = try config.requiredString("name")
        guard !networkName.contains("/"), networkName != ".", networkName != ".." else {
            throw CNIError.config("name \"\(networkName)\" cannot be used as a directory name")
        }
        dataDir = try ipam.string("dataDir") ?? HostLocalConfig.defaultDataDir
        resolvConf = try ipam.string("resolvConf")
        if let list = try ipam.array("routes") {
            routes = try CNIResult.parseRoutes(.array(list), path: ipam.fieldPath("routes"))
        } else {
            routes = []
        }
        rangeSets = []
        if let sets = try ipam.array("ranges") {
            for (setIndex, set) in sets.enumerated() {
                let setPath = ipam.fieldPath("ranges") + "[\(setIndex)]"
                guard case .array(let ranges) = set, !ranges.isEmpty else {
                    throw CNIError.config("\(setPath) must be a non-empty array of ranges")
                }
                var parsed: [IPRange] = []
                for (rangeIndex, range) in ranges.enumerated() {
                    parsed.append(try HostLocalConfig.parseRange(try ConfigFields(range, path: "\(setPath)[\(rangeIndex)]")))
                }
                rangeSets.append(parsed)
            }
        }
        if ipam.has("subnet") {
            rangeSets.insert([try HostLocalConfig.parseRange(ipam)], at: 0)
        }
        guard !rangeSets.isEmpty else { throw CNIError.config("\(ipam.fieldPath("ranges")) is required (or the single-range \(ipam.fieldPath("subnet")))") }
        try validateRangeSets(path: ipam.fieldPath("ranges"))
    }

    static func parseRange(_ fields: ConfigFields) throws(CNIError) -> IPRange {
        let subnetText = try fields.requiredString("subnet")
        guard let given = IPNetwork(subnetText), subnetText.contains("/") else {
            throw fields.invalid("subnet", "is not a prefix in CIDR notation: \(subnetText)")
        }
        let subnet = given.network
        let isV4 = subnet.address.isV4
        // An IPv4 /31 or /32 has no address left once network and broadcast are excluded.
        if isV4 && subnet.prefixLength > 30 { throw fields.invalid("subnet", "\(subnet) is too small to allocate from") }
        if !isV4 && subnet.prefixLength > 126 { throw fields.invalid("subnet", "\(subnet) is too small to allocate from") }
        func address(_ key: String) throws(CNIError) -> IPAddress? {
            guard let text = try fields.string(key) else { return nil }
            guard let value = IPAddress(text) else { throw fields.invalid(key, "is not an IP address: \(text)") }
            guard subnet.contains(value) else { throw fields.invalid(key, "\(text) is not in subnet \(subnet)") }
            return value
        }
        // Defaults follow host-local: start after the network address, end before the
        // IPv4 broadcast address (IPv6 has none), gateway the first address.
        let firstHost = subnet.first.advanced(by: 1) ?? subnet.first
        let lastHost = isV4 ? (subnet.last.advanced(by: -1) ?? subnet.last) : subnet.last
        let start = try address("rangeStart") ?? firstHost
        let end = try address("rangeEnd") ?? lastHost
        guard start <= end else { throw fields.invalid("rangeStart", "\(start) is after rangeEnd \(end)") }
        let gateway = try address("gateway") ?? firstHost
        return IPRange(subnet: subnet, rangeStart: start, rangeEnd: end, gateway: gateway)
    }

    func validateRangeSets(path: String) throws(CNIError) {
        var all: [(Int, IPRange)] = []
        for (setIndex, set) in rangeSets.enumerated() {
            let family = set[0].subnet.address.isV4
            for range in set {
                if range.subnet.address.isV4 != family {
                    throw CNIError.config("\(path)[\(setIndex)] mixes IPv4 and IPv6 ranges")
                }
                for (otherSet, other) in all where other.rangeStart <= range.rangeEnd && range.rangeStart <= other.rangeEnd
                    && other.subnet.address.isV4 == family {
                    throw CNIError.config("\(path)[\(setIndex)] range \(range.description) overlaps range \(other.description) of set \(otherSet)")
                }
                all.append((setIndex, range))
            }
        }
    }
}

/// Nameserver settings read from a resolv.conf-style file (host-local's `resolvConf`).
enum ResolvConf {
    static func parse(_ text: String) -> CNIResult.DNS {
        var dns = CNIResult.DNS()
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let keyword = words.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            let rest = Array(words.dropFirst())
            switch keyword {
            case "nameserver": dns.nameservers.append(contentsOf: rest.prefix(1))
            case "domain": dns.domain = rest.first
            case "search": dns.search = rest
            case "options": dns.options.append(contentsOf: rest)
            default: break
            }
        }
        return dns
    }
}
