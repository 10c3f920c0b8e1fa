/// A Prometheus histogram: cumulative bucket counts, sum and count.
public struct Histogram: Sendable, Equatable {
    public let bounds: [Double]
    public private(set) var counts: [UInt64]
    public private(set) var sum: Double = 0
    public private(set) var count: UInt64 = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = [UInt64](repeating: 0, count: bounds.count)
    }

    public mutating func observe(_ value: Double) {
        for (i, bound) in bounds.enumerated() where value <= bound { counts[i] += 1 }
        sum += value
        count += 1
    }

    /// kube-proxy's buckets for sync durations: 1 ms doubling 15 times.
    public static func syncDuration() -> Histogram { Histogram(bounds: (0..<15).map { 0.001 * Double(1 << $0) }) }

    /// kube-proxy's buckets for network programming latency (0.25 s to 30 min).
    public static func programmingLatency() -> Histogram {
        var b: [Double] = [0.25, 0.5]
        b += (1...59).map(Double.init)
        b += (0..<12).map { 60 + 5 * Double($0) }
        b += (0..<7).map { 300 + 30 * Double($0) }
        return Histogram(bounds: b)
    }
}

/// The proxy's own metrics under kube-proxy's names, as a value: the agent renders it into
/// its `/metrics` alongside everything else.
public struct ProxyMetrics: Sendable, Equatable {
    public var syncDuration = Histogram.syncDuration()
    public var networkProgrammingDuration = Histogram.programmingLatency()
    public var lastSyncTimestamp: Double = 0
    public var endpointChanges: UInt64 = 0
    public var serviceChanges: UInt64 = 0
    public var syncFailures: UInt64 = 0
    /// Not a kube-proxy metric: objects skipped as malformed since start.
    public var invalidObjects: UInt64 = 0

    public init() {}

    /// Prometheus text exposition format (version 0.0.4).
    public func render() -> String {
        var out = ""
        func histogram(_ name: String, _ help: String, _ h: Histogram) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            for (bound, count) in zip(h.bounds, h.counts) { out += "\(name)_bucket{le=\"\(format(bound))\"} \(count)\n" }
            out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(format(h.sum))\n\(name)_count \(h.count)\n"
        }
        func scalar(_ name: String, _ type: String, _ help: String, _ value: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        histogram("kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds", syncDuration)
        scalar("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "gauge",
               "The last time proxy rules were successfully synced", format(lastSyncTimestamp))
        histogram("kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds",
                  networkProgrammingDuration)
        scalar("kubeproxy_sync_proxy_rules_endpoint_changes_total", "counter", "Cumulative proxy rules Endpoint changes",
               String(endpointChanges))
        scalar("kubeproxy_sync_proxy_rules_service_changes_total", "counter", "Cumulative proxy rules Service changes",
               String(serviceChanges))
        scalar("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "counter",
               "Cumulative proxy nftables sync failures", String(syncFailures))
        scalar("swiftlet_proxy_invalid_objects_total", "counter",
               "Services and EndpointSlices skipped because they are malformed", String(invalidObjects))
        return out
    }

    func format(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
