/// Durations written the way kubelet's flags take them (Go's time.ParseDuration): a sequence
/// of decimal numbers with units, e.g. "10s", "1m30s", "1.5s", "250ms". Units: ns, us (µs),
/// ms, s, m, h.
public enum GoDuration {
    public static func parse(_ text: String) throws -> Duration {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var rest = Substring(text)
        guard !rest.isEmpty else { throw StatsError.invalidDuration(text) }
        if rest == "0" { return .zero }
        var nanos = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { throw StatsError.invalidDuration(text) }
            rest = rest.dropFirst(number.count)
            // Longest unit first so "ms" is not read as "m".
            guard let unit = units.sorted(by: { $0.0.count > $1.0.count }).first(where: { rest.hasPrefix($0.0) }) else {
                throw StatsError.invalidDuration(text)
            }
            rest = rest.dropFirst(unit.0.count)
            nanos += value * unit.1
        }
        guard nanos.isFinite, nanos < 9.2e18 else { throw StatsError.invalidDuration(text) }
        return .nanoseconds(Int64(nanos.rounded()))
    }
}
