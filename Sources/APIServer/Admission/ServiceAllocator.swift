import Synchronization

/// Allocates Service ClusterIPs from `--service-cluster-ip-range` and NodePorts from
/// 30000–32767. The allocated sets are rebuilt from stored Services at start, so storage stays
/// the only source of truth.
public final class ServiceAllocator: Sendable {
    public struct CIDR: Sendable, Equatable {
        public let base: UInt32
        public let prefix: Int
        public var size: UInt32 { prefix >= 32 ? 1 : UInt32(1) << UInt32(32 - prefix) }

        public init(parsing s: String) throws(APIError) {
            let parts = s.split(separator: "/")
            guard parts.count == 2, let p = Int(parts[1]), (1...30).contains(p), let b = IPAddress.v4(String(parts[0])) else {
                throw APIError.badRequest("invalid --service-cluster-ip-range \"\(s)\": want an IPv4 CIDR like 10.96.0.0/12 with a prefix of 1-30")
            }
            let v = b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            prefix = p
            base = v & ~(UInt32.max >> UInt32(p))
        }

        public func contains(_ ip: UInt32) -> Bool { ip & ~(UInt32.max >> UInt32(prefix)) == base }
        public func address(_ offset: UInt32) -> String { IPv4.text(base &+ offset) }
        /// The first usable address: upstream reserves it for the `kubernetes` Service.
        public var first: String { address(1) }
    }

    public let range: CIDR
    public static let nodePorts: ClosedRange<Int> = 30000...32767
    private let state = Mutex<(ips: Set<UInt32>, ports: Set<Int>)>((ips: [], ports: []))

    public init(range: CIDR) { self.range = range }

    /// Marks what stored Services already hold.
    func load(services: [JSON]) {
        state.withLock { s in
            for svc in services {
                for ip in Self.ips(svc) { s.ips.insert(ip) }
                for p in Self.nodePorts(svc) { s.ports.insert(p) }
            }
        }
    }

    static func ips(_ svc: JSON) -> [UInt32] {
        var out: [UInt32] = []
        let all = (svc["spec"]?["clusterIPs"]?.array?.compactMap(\.string) ?? []) + [svc["spec"]?["clusterIP"]?.string ?? ""]
        for t in all { if let v = IPv4.parse(t), !out.contains(v) { out.append(v) } }
        return out
    }

    static func nodePorts(_ svc: JSON) -> [Int] {
        (svc["spec"]?["ports"]?.array ?? []).compactMap { $0["nodePort"]?.int }.map { Int($0) }.filter { $0 != 0 }
    }

    /// Allocates a specific IP or a random free one; throws 422 causes when impossible.
    func allocateIP(_ requested: String?) throws -> String {
        try state.withLock { (s) throws -> String in
            if let requested, !requested.isEmpty {
                guard let v = IPv4.parse(requested), range.contains(v) else {
                    throw invalidCause("spec.clusterIPs[0]", requested, "the provided IP (\(requested)) is not in the valid range. The range of valid IPs is \(range.address(0))/\(range.prefix)")
                }
                guard !s.ips.contains(v) else {
                    throw invalidCause("spec.clusterIPs[0]", requested, "failed to allocate IP \(requested): provided IP is already allocated")
                }
                s.ips.insert(v)
                return requested
            }
            let usable = range.size - 2
            guard UInt32(s.ips.count) < usable else { throw APIError.internal("failed to allocate a serviceIP: range is full") }
            var g = SystemRandomNumberGenerator()
            var offset = UInt32.random(in: 2...(range.size - 2), using: &g)
            while s.ips.contains(range.base &+ offset) { offset = offset >= range.size - 2 ? 2 : offset + 1 }
            s.ips.insert(range.base &+ offset)
            return range.address(offset)
        }
    }

    func allocatePort(_ requested: Int?) throws -> Int {
        try state.withLock { (s) throws -> Int in
            if let requested, requested != 0 {
                guard Self.nodePorts.contains(requested) else {
                    throw invalidCause("spec.ports[0].nodePort", String(requested), "provided port is not in the valid range. The range of valid ports is 30000-32767")
                }
                guard !s.ports.contains(requested) else {
                    throw invalidCause("spec.ports[0].nodePort", String(requested), "provided port is already allocated")
                }
                s.ports.insert(requested)
                return requested
            }
            guard s.ports.count < Self.nodePorts.count else { throw APIError.internal("failed to allocate a nodePort: range is full") }
            var p = Int.random(in: Self.nodePorts)
            while s.ports.contains(p) { p = p >= Self.nodePorts.upperBound ? Self.nodePorts.lowerBound : p + 1 }
            s.ports.insert(p)
            return p
        }
    }

    func release(ip: String) {
        guard let v = IPv4.parse(ip) else { return }
        _ = state.withLock { $0.ips.remove(v) }
    }

    func release(port: Int) { _ = state.withLock { $0.ports.remove(port) } }

    func release(service svc: JSON) {
        for ip in Self.ips(svc) { _ = state.withLock { $0.ips.remove(ip) } }
        for p in Self.nodePorts(svc) { release(port: p) }
    }

    /// A field problem the Service admission turns into its 422 (it knows the Service's name).
    struct Failure: Error { let cause: FieldCause }

    private func invalidCause(_ field: String, _ value: String, _ detail: String) -> Failure {
        Failure(cause: .invalid(field, .string(value), detail))
    }
}

enum IPv4 {
    static func parse(_ s: String) -> UInt32? {
        guard let b = IPAddress.v4(s) else { return nil }
        return b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
    static func text(_ v: UInt32) -> String { "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)" }
}
