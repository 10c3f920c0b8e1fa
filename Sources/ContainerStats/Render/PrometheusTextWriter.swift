/// Prometheus text exposition format 0.0.4, written straight into a byte buffer: label values
/// escaped once per cgroup, integers and microsecond counters formatted without going through
/// Double or String, so a scrape of hundreds of containers stays a few milliseconds of work.
struct PrometheusTextWriter {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64 * 1024) {
        bytes.reserveCapacity(capacity)
    }

    /// The bytes in storage of their own size. A cached body (the cAdvisor exposition is kept
    /// for the whole housekeeping round) would otherwise hold the writer's spare capacity too,
    /// up to twice its size after the last append doubled the buffer.
    var compactBytes: [UInt8] {
        bytes.capacity - bytes.count <= bytes.count / 16 ? bytes : bytes.withUnsafeBufferPointer { Array($0) }
    }

    /// Pre-escaped `name="value"` pairs in label-name order, plus all of them joined: escaping
    /// happens once per cgroup, not once per sample.
    struct Labels {
        fileprivate var names: [String]
        fileprivate var pairs: [[UInt8]]
        fileprivate var joined: [UInt8]

        init(_ pairs: [(String, String)]) {
            names = pairs.map(\.0)
            self.pairs = pairs.map { PrometheusTextWriter.renderPair($0.0, $0.1) }
            joined = Array(self.pairs.joined(separator: [0x2C]))
        }

        static let empty = Labels([])

        /// How many of these labels sort before `name`: where an extra label goes.
        func slot(for name: String) -> Int {
            names.firstIndex { name < $0 } ?? names.count
        }
    }

    /// A label added to one family's samples (cpu="total", device=..., interface=...), rendered
    /// once. `slot` places it among the base labels so the set stays sorted by name.
    struct ExtraLabel {
        var slot: Int
        var rendered: [UInt8]

        /// `slot` for the cAdvisor base set `container, id, image, name, namespace, pod`.
        init(_ name: String, _ value: String) {
            slot = ExtraLabel.cadvisorSlot(name)
            rendered = PrometheusTextWriter.renderPair(name, value)
        }

        init(_ name: String, _ value: String, among labels: Labels) {
            slot = labels.slot(for: name)
            rendered = PrometheusTextWriter.renderPair(name, value)
        }

        static let cadvisorBase = ["container", "id", "image", "name", "namespace", "pod"]

        static func cadvisorSlot(_ name: String) -> Int {
            switch name {
            case "cpu", "device", "failure_type": return 1
            case "interface": return 3
            case "major", "minor": return 3
            case "operation": return 5
            case "scope", "state", "ulimit": return 6
            default: return cadvisorBase.firstIndex { name < $0 } ?? cadvisorBase.count
            }
        }
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

    /// Starts a sample line: name and labels, with `extra` labels at their slots.
    mutating func series(_ name: String, _ labels: Labels, _ extra: [ExtraLabel] = []) {
        append(name)
        if extra.isEmpty {
            if labels.pairs.isEmpty {
                bytes.append(0x20)
                return
            }
            bytes.append(0x7B)  // {
            bytes.append(contentsOf: labels.joined)
            bytes.append(0x7D)
            bytes.append(0x20)
            return
        }
        bytes.append(0x7B)
        var first = true
        var next = 0
        for index in 0...labels.pairs.count {
            while next < extra.count && extra[next].slot <= index {
                if !first { bytes.append(0x2C) }
                first = false
                bytes.append(contentsOf: extra[next].rendered)
                next += 1
            }
            if index < labels.pairs.count {
                if !first { bytes.append(0x2C) }
                first = false
                bytes.append(contentsOf: labels.pairs[index])
            }
        }
        bytes.append(0x7D)
        bytes.append(0x20)
    }

    /// Convenience for one-off extra labels given as name/value pairs (already sorted).
    mutating func series(_ name: String, _ labels: Labels, _ extra: [(String, String)]) {
        series(name, labels, extra.map { ExtraLabel($0.0, $0.1, among: labels) })
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
            var divisor: UInt64 = 100_000
            while fraction != 0 {
                bytes.append(0x30 + UInt8(fraction / divisor))
                fraction %= divisor
                divisor /= 10
            }
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
