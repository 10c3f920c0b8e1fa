/// Prometheus text exposition format 0.0.4, written straight into a byte buffer: label values
/// escaped once per cgroup, integers and microsecond counters formatted without going through
/// Double or String, so a scrape of hundreds of containers stays a few milliseconds of work.
struct PrometheusTextWriter {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64 * 1024) {
        bytes.reserveCapacity(capacity)
    }

    /// Pre-escaped `name="value"` pairs in label-name order.
    struct Labels {
        fileprivate var pairs: [(name: String, rendered: [UInt8])]

        init(_ pairs: [(String, String)]) {
            self.pairs = pairs.map { ($0.0, PrometheusTextWriter.renderPair($0.0, $0.1)) }
        }

        static let empty = Labels([])
    }

    enum Kind: String {
        case counter
        case gauge
    }

    mutating func header(_ name: String, help: String, kind: Kind) {
        append("# HELP ")
        append(name)
        bytes.append(0x20)
        for byte in help.utf8 {
            switch byte {
            case 0x5C: append("\\\\")
            case 0x0A: append("\\n")
            default: bytes.append(byte)
            }
        }
        append("\n# TYPE ")
        append(name)
        bytes.append(0x20)
        append(kind.rawValue)
        bytes.append(0x0A)
    }

    /// Starts a sample line: name and labels, with `extra` pairs merged in name order.
    mutating func series(_ name: String, _ labels: Labels, _ extra: [(String, String)] = []) {
        append(name)
        if labels.pairs.isEmpty && extra.isEmpty {
            bytes.append(0x20)
            return
        }
        bytes.append(0x7B)  // {
        var first = true
        var pending = extra[...]
        for pair in labels.pairs {
            while let next = pending.first, next.0 < pair.name {
                if !first { bytes.append(0x2C) }
                first = false
                bytes.append(contentsOf: Self.renderPair(next.0, next.1))
                pending = pending.dropFirst()
            }
            if !first { bytes.append(0x2C) }
            first = false
            bytes.append(contentsOf: pair.rendered)
        }
        for next in pending {
            if !first { bytes.append(0x2C) }
            first = false
            bytes.append(contentsOf: Self.renderPair(next.0, next.1))
        }
        append("} ")
    }

    mutating func value(_ value: UInt64, timestamp: Int64? = nil) {
        appendDecimal(value)
        end(timestamp)
    }

    mutating func value(_ value: Int64, timestamp: Int64? = nil) {
        if value < 0 { bytes.append(0x2D) }
        appendDecimal(value.magnitude)
        end(timestamp)
    }

    /// A counter kept in microseconds, written as exact decimal seconds.
    mutating func value(micros: UInt64, timestamp: Int64? = nil) {
        appendDecimal(micros / 1_000_000)
        var fraction = micros % 1_000_000
        if fraction != 0 {
            bytes.append(0x2E)
            var digits = 6
            while fraction % 10 == 0 {
                fraction /= 10
                digits -= 1
            }
            let text = String(fraction)
            for _ in 0..<(digits - text.utf8.count) { bytes.append(0x30) }
            append(text)
        }
        end(timestamp)
    }

    mutating func value(_ value: Double, timestamp: Int64? = nil) {
        if value.isNaN {
            append("NaN")
        } else if value.isInfinite {
            append(value > 0 ? "+Inf" : "-Inf")
        } else if value == value.rounded(), value.magnitude < 1e15 {
            if value < 0 { bytes.append(0x2D) }
            appendDecimal(UInt64(value.magnitude))
        } else {
            append(value.description)
        }
        end(timestamp)
    }

    private mutating func end(_ timestamp: Int64?) {
        if let timestamp {
            bytes.append(0x20)
            if timestamp < 0 { bytes.append(0x2D) }
            appendDecimal(timestamp.magnitude)
        }
        bytes.append(0x0A)
    }

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    mutating func appendRaw(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    private mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            bytes.append(0x30 + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes of scratch
        let count = withUnsafeMutableBytes(of: &digits) { raw -> Int in
            var v = value
            var i = raw.count
            while v > 0 {
                i -= 1
                raw[i] = 0x30 + UInt8(v % 10)
                v /= 10
            }
            bytes.append(contentsOf: raw[i...])
            return raw.count - i
        }
        _ = count
    }

    static func renderPair(_ name: String, _ value: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(name.utf8.count + value.utf8.count + 3)
        out.append(contentsOf: name.utf8)
        out.append(0x3D)
        out.append(0x22)
        for byte in value.utf8 {
            switch byte {
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            default: out.append(byte)
            }
        }
        out.append(0x22)
        return out
    }
}
