import LinuxNetlink

/// A plugin's ADD result (spec section 5, "Success"), in any version from 0.3.0 to 1.1.0.
/// Parsing accepts every field of 1.1.0; serializing writes the shape of the version asked for.
public struct CNIResult: Sendable, Equatable {
    public struct Interface: Sendable, Equatable {
        public var name: String
        public var mac: String?
        public var mtu: Int?
        /// The netns path for interfaces inside the sandbox; absent for host interfaces.
        public var sandbox: String?
        public var socketPath: String?
        public var pciID: String?

        public init(name: String, mac: String? = nil, mtu: Int? = nil, sandbox: String? = nil) {
            self.name = name
            self.mac = mac
            self.mtu = mtu
            self.sandbox = sandbox
        }
    }

    public struct IPConfig: Sendable, Equatable {
        public var address: IPNetwork
        public var gateway: IPAddress?
        /// Index into `interfaces`.
        public var interface: Int?

        public init(address: IPNetwork, gateway: IPAddress? = nil, interface: Int? = nil) {
            self.address = address
            self.gateway = gateway
            self.interface = interface
        }
    }

    public struct Route: Sendable, Equatable {
        public var dst: IPNetwork
        public var gw: IPAddress?
        public var mtu: Int?
        public var advmss: Int?
        public var priority: Int?
        public var table: Int?
        public var scope: Int?

        public init(dst: IPNetwork, gw: IPAddress? = nil) {
            self.dst = dst
            self.gw = gw
        }
    }

    public struct DNS: Sendable, Equatable {
        public var nameservers: [String] = []
        public var domain: String?
        public var search: [String] = []
        public var options: [String] = []

        public init() {}
        public var isEmpty: Bool { nameservers.isEmpty && domain == nil && search.isEmpty && options.isEmpty }
    }

    public var cniVersion: String
    public var interfaces: [Interface] = []
    public var ips: [IPConfig] = []
    public var routes: [Route] = []
    public var dns = DNS()

    public init(cniVersion: String) { self.cniVersion = cniVersion }
}

// MARK: JSON

extension CNIResult {
    /// The result as JSON in `version` (defaults to the result's own).
    public func json(version: String? = nil) -> JSON {
        let version = version ?? cniVersion
        let withIPVersion = CNIVersion.resultHasIPVersion(version)
        let extendedFields = CNIVersion.atLeast(version, "1.1.0")
        var object = JSONObject([("cniVersion", .string(version))])
        if !interfaces.isEmpty {
            object["interfaces"] = .array(interfaces.map { interface in
                var item = JSONObject([("name", .string(interface.name))])
                if let mac = interface.mac { item["mac"] = .string(mac) }
                if extendedFields, let mtu = interface.mtu { item["mtu"] = .int(Int64(mtu)) }
                if let sandbox = interface.sandbox { item["sandbox"] = .string(sandbox) }
                if extendedFields, let socketPath = interface.socketPath { item["socketPath"] = .string(socketPath) }
                if extendedFields, let pciID = interface.pciID { item["pciID"] = .string(pciID) }
                return .object(item)
            })
        }
        if !ips.isEmpty {
            object["ips"] = .array(ips.map { ip in
                var item = JSONObject()
                if withIPVersion { item["version"] = .string(ip.address.address.isV4 ? "4" : "6") }
                item["address"] = .string(ip.address.description)
                if let gateway = ip.gateway { item["gateway"] = .string(gateway.description) }
                if let index = ip.interface { item["interface"] = .int(Int64(index)) }
                return .object(item)
            })
        }
        if !routes.isEmpty {
            object["routes"] = .array(routes.map { route in
                var item = JSONObject([("dst", .string(route.dst.description))])
                if let gw = route.gw { item["gw"] = .string(gw.description) }
                if extendedFields {
                    if let mtu = route.mtu { item["mtu"] = .int(Int64(mtu)) }
                    if let advmss = route.advmss { item["advmss"] = .int(Int64(advmss)) }
                    if let priority = route.priority { item["priority"] = .int(Int64(priority)) }
                    if let table = route.table { item["table"] = .int(Int64(table)) }
                    if let scope = route.scope { item["scope"] = .int(Int64(scope)) }
                }
                return .object(item)
            })
        }
        if !dns.isEmpty { object["dns"] = CNIResult.dnsJSON(dns) }
        return .object(object)
    }

    public static func dnsJSON(_ dns: DNS) -> JSON {
        var item = JSONObject()
        if !dns.nameservers.isEmpty { item["nameservers"] = .array(dns.nameservers.map { .string($0) }) }
        if let domain = dns.domain { item["domain"] = .string(domain) }
        if !dns.search.isEmpty { item["search"] = .array(dns.search.map { .string($0) }) }
        if !dns.options.isEmpty { item["options"] = .array(dns.options.map { .string($0) }) }
        return .object(item)
    }

    /// Parses a result; errors name the offending field (`ips[1].address`).
    public init(json: JSON) throws(CNIError) {
        guard case .object(let object) = json else {
            throw CNIError(code: CNIError.decodeFailure, msg: "result is \(json.kindDescription), not an object")
        }
        cniVersion = try CNIResult.optionalString(object["cniVersion"], "cniVersion") ?? CNIVersion.current
        if let list = object["interfaces"], !list.isNull {
            guard case .array(let items) = list else { throw CNIResult.fieldError("interfaces", "must be an array") }
            for (index, item) in items.enumerated() {
                let path = "interfaces[\(index)]"
                guard case .object(let fields) = item else { throw CNIResult.fieldError(path, "must be an object") }
                guard let name = try CNIResult.optionalString(fields["name"], path + ".name") else {
                    throw CNIResult.fieldError(path + ".name", "is required")
                }
                var interface = Interface(name: name)
                interface.mac = try CNIResult.optionalString(fields["mac"], path + ".mac")
                interface.mtu = try CNIResult.optionalInt(fields["mtu"], path + ".mtu")
                interface.sandbox = try CNIResult.optionalString(fields["sandbox"], path + ".sandbox")
                interface.socketPath = try CNIResult.optionalString(fields["socketPath"], path + ".socketPath")
                interface.pciID = try CNIResult.optionalString(fields["pciID"], path + ".pciID")
                interfaces.append(interface)
            }
        }
        if let list = object["ips"], !list.isNull {
            guard case .array(let items) = list else { throw CNIResult.fieldError("ips", "must be an array") }
            for (index, item) in items.enumerated() {
                let path = "ips[\(index)]"
                guard case .object(let fields) = item else { throw CNIResult.fieldError(path, "must be an object") }
                guard let text = try CNIResult.optionalString(fields["address"], path + ".address"),
                      let address = IPNetwork(text) else {
                    throw CNIResult.fieldError(path + ".address", "must be an address in CIDR notation")
                }
                var config = IPConfig(address: address)
                if let text = try CNIResult.optionalString(fields["gateway"], path + ".gateway") {
                    guard let gateway = IPAddress(text) else { throw CNIResult.fieldError(path + ".gateway", "is not an IP address: \(text)") }
                    config.gateway = gateway
                }
                config.interface = try CNIResult.optionalInt(fields["interface"], path + ".interface")
                ips.append(config)
            }
        }
        if let list = object["routes"], !list.isNull {
            routes = try CNIResult.parseRoutes(list, path: "routes")
        }
        if let value = object["dns"], !value.isNull {
            dns = try CNIResult.parseDNS(value, path: "dns")
        }
    }

    public static func parseRoutes(_ value: JSON, path: String) throws(CNIError) -> [Route] {
        guard case .array(let items) = value else { throw fieldError(path, "must be an array") }
        var routes: [Route] = []
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard case .object(let fields) = item else { throw fieldError(itemPath, "must be an object") }
            guard let text = try optionalString(fields["dst"], itemPath + ".dst"), let dst = IPNetwork(text) else {
                throw fieldError(itemPath + ".dst", "must be a prefix in CIDR notation")
            }
            var route = Route(dst: dst)
            if let text = try optionalString(fields["gw"], itemPath + ".gw") {
                guard let gw = IPAddress(text) else { throw fieldError(itemPath + ".gw", "is not an IP address: \(text)") }
                route.gw = gw
            }
            route.mtu = try optionalInt(fields["mtu"], itemPath + ".mtu")
            route.advmss = try optionalInt(fields["advmss"], itemPath + ".advmss")
            route.priority = try optionalInt(fields["priority"], itemPath + ".priority")
            route.table = try optionalInt(fields["table"], itemPath + ".table")
            route.scope = try optionalInt(fields["scope"], itemPath + ".scope")
            routes.append(route)
        }
        return routes
    }

    public static func parseDNS(_ value: JSON, path: String) throws(CNIError) -> DNS {
        guard case .object(let fields) = value else { throw fieldError(path, "must be an object") }
        var dns = DNS()
        dns.nameservers = try stringList(fields["nameservers"], path + ".nameservers")
        dns.domain = try optionalString(fields["domain"], path + ".domain")
        dns.search = try stringList(fields["search"], path + ".search")
        dns.options = try stringList(fields["options"], path + ".options")
        return dns
    }

    static func fieldError(_ path: String, _ problem: String) -> CNIError {
        CNIError(code: CNIError.decodeFailure, msg: "invalid result: \(path) \(problem)")
    }

    static func optionalString(_ value: JSON?, _ path: String) throws(CNIError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard case .string(let s) = value else { throw fieldError(path, "must be a string, not \(value.kindDescription)") }
        return s
    }

    static func optionalInt(_ value: JSON?, _ path: String) throws(CNIError) -> Int? {
        guard let value, !value.isNull else { return nil }
        guard let i = value.intValue else { throw fieldError(path, "must be an integer, not \(value.kindDescription)") }
        return Int(i)
    }

    static func stringList(_ value: JSON?, _ path: String) throws(CNIError) -> [String] {
        guard let value, !value.isNull else { return [] }
        guard case .array(let items) = value else { throw fieldError(path, "must be an array of strings") }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item else { throw fieldError(path, "must be an array of strings") }
            out.append(s)
        }
        return out
    }
}
