import LinuxPrimitives

/// Parsers for the text formats of cgroupfs and procfs, over raw bytes. Pure functions:
/// unit-tested on captured file contents, and tolerant of unknown keys and extra columns
/// because the kernel adds fields over time.
enum KernelText {
    /// Lines of `bytes` without their newline, empty lines skipped.
    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        bytes.split(separator: 0x0A, omittingEmptySubsequences: true)
    }

    /// Unsigned decimal at the start of `field`; nil when it does not start with a digit.
    static func number<C: Collection>(_ field: C) -> UInt64? where C.Element == UInt8 {
        var value: UInt64 = 0
        var digits = 0
        for byte in field {
            guard byte >= 0x30 && byte <= 0x39 else { break }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(byte - 0x30))
            if o1 || o2 { return nil }
            value = a
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    static func signedNumber<C: Collection>(_ field: C) -> Int64? where C.Element == UInt8 {
        if field.first == 0x2D {
            guard let magnitude = number(field.dropFirst()), magnitude <= UInt64(Int64.max) else { return nil }
            return -Int64(magnitude)
        }
        guard let value = number(field), value <= UInt64(Int64.max) else { return nil }
        return Int64(value)
    }

    static func string(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// Whitespace-separated fields of one line.
    static func fields(_ line: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        line.split(whereSeparator: isSpace)
    }

    /// Every whitespace-separated word of a file (spaces, tabs and newlines), e.g.
    /// cgroup.controllers.
    static func words(_ bytes: [UInt8]) -> [String] {
        bytes.split(whereSeparator: { isSpace($0) || $0 == 0x0A }).map { string($0) }
    }

    /// "key value" per line (cpu.stat, memory.stat, memory.events, pids files).
    static func flatKeyed(_ bytes: [UInt8]) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in lines(bytes) {
            guard let space = line.firstIndex(where: isSpace) else { continue }
            let rest = line[space...].drop(while: isSpace)
            if let value = number(rest) { result[string(line[..<space])] = value }
        }
        return result
    }

    /// "Key:   value kB" per line (/proc/meminfo, smaps_rollup), in bytes when a kB unit is given.
    static func colonKeyed(_ bytes: [UInt8]) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in lines(bytes) {
            guard let colon = line.firstIndex(of: 0x3A) else { continue }
            let rest = line[(colon + 1)...].drop(while: isSpace)
            guard let value = number(rest) else { continue }
            let unitKB = rest.reversed().starts(with: Array("Bk ".utf8))
            result[string(line[..<colon])] = unitKB ? value &* 1024 : value
        }
        return result
    }

    /// One number in a file such as memory.current; `.unlimited` for "max".
    enum SingleValue: Equatable {
        case value(UInt64)
        case unlimited
    }

    static func singleValue(_ bytes: [UInt8]) -> SingleValue? {
        let trimmed = bytes.prefix { $0 != 0x0A && !isSpace($0) }
        if trimmed.elementsEqual("max".utf8) { return .unlimited }
        return number(trimmed).map(SingleValue.value)
    }

    /// `total=` of the "some" and "full" lines of a PSI file (cpu.pressure etc.).
    static func pressure(_ bytes: [UInt8]) -> (some: UInt64?, full: UInt64?) {
        var some: UInt64?
        var full: UInt64?
        for line in lines(bytes) {
            let parts = fields(line)
            guard let kind = parts.first else { continue }
            var total: UInt64?
            for part in parts.dropFirst() where part.starts(with: "total=".utf8) {
                total = number(part.dropFirst(6))
            }
            if kind.elementsEqual("some".utf8) { some = total } else if kind.elementsEqual("full".utf8) { full = total }
        }
        return (some, full)
    }

    /// io.stat: "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=.. [cost.usage=..]".
    static func ioStat(_ bytes: [UInt8]) -> [(device: DeviceNumber, values: [String: UInt64])] {
        var result: [(DeviceNumber, [String: UInt64])] = []
        for line in lines(bytes) {
            let parts = fields(line)
            guard let first = parts.first, let colon = first.firstIndex(of: 0x3A),
                  let major = number(first[..<colon]), let minor = number(first[(colon + 1)...]),
                  major <= UInt64(UInt32.max), minor <= UInt64(UInt32.max) else { continue }
            var values: [String: UInt64] = [:]
            for part in parts.dropFirst() {
                guard let equals = part.firstIndex(of: 0x3D), let value = number(part[(equals + 1)...]) else { continue }
                values[string(part[..<equals])] = value
            }
            result.append((DeviceNumber(major: UInt32(major), minor: UInt32(minor)), values))
        }
        return result
    }

    /// cgroup.procs / cgroup.threads: one id per line.
    static func ids(_ bytes: [UInt8]) -> [Int32] {
        var result: [Int32] = []
        for line in lines(bytes) {
            if let value = number(line), value <= UInt64(Int32.max) { result.append(Int32(value)) }
        }
        return result
    }

    /// Lines in a file (cgroup.threads counts without materialising the ids).
    static func lineCount(_ bytes: [UInt8]) -> Int {
        var count = 0
        var previous: UInt8 = 0x0A
        for byte in bytes {
            if byte == 0x0A && previous != 0x0A { count += 1 }
            previous = byte
        }
        if previous != 0x0A { count += 1 }
        return count
    }

    /// cpu.max: "QUOTA PERIOD" with QUOTA possibly "max".
    static func cpuMax(_ bytes: [UInt8]) -> (quota: Int64?, period: UInt64?) {
        guard let line = lines(bytes).first else { return (nil, nil) }
        let parts = fields(line)
        guard parts.count >= 2 else { return (nil, nil) }
        let quota: Int64? = parts[0].elementsEqual("max".utf8) ? nil : signedNumber(parts[0])
        return (quota, number(parts[1]))
    }

    /// The "Max open files" soft limit from /proc/PID/limits (nil when "unlimited").
    static func openFilesSoftLimit(_ bytes: [UInt8]) -> UInt64? {
        for line in lines(bytes) where line.starts(with: "Max open files".utf8) {
            let rest = line.dropFirst("Max open files".utf8.count)
            return number(rest.drop(while: isSpace))
        }
        return nil
    }

    /// The aggregate "cpu" line of /proc/stat: busy time (everything but idle and iowait) in
    /// clock ticks, split into user (user+nice) and system (system+irq+softirq).
    static func procStatCPU(_ bytes: [UInt8]) -> (busy: UInt64, user: UInt64, system: UInt64)? {
        guard let line = lines(bytes).first(where: { $0.starts(with: "cpu ".utf8) }) else { return nil }
        let values = fields(line).dropFirst().compactMap { number($0) }
        guard values.count >= 7 else { return nil }
        let user = values[0] + values[1]
        let system = values[2] + values[5] + values[6]
        let steal = values.count > 7 ? values[7] : 0
        return (user + system + steal, user, system)
    }

    /// The number after the "/" in /proc/loadavg's fourth field: tasks in the system.
    static func loadavgTasks(_ bytes: [UInt8]) -> UInt64? {
        let parts = fields(bytes[...])
        guard parts.count >= 4, let slash = parts[3].firstIndex(of: 0x2F) else { return nil }
        return number(parts[3][(slash + 1)...])
    }

    /// One /proc/self/mountinfo line: device, mount point, filesystem type and source.
    struct Mount: Equatable {
        var device: DeviceNumber
        var mountPoint: String
        var fsType: String
        var source: String
    }

    static func mountinfo(_ bytes: [UInt8]) -> [Mount] {
        var result: [Mount] = []
        for line in lines(bytes) {
            let parts = fields(line)
            guard parts.count >= 10, let colon = parts[2].firstIndex(of: 0x3A),
                  let major = number(parts[2][..<colon]), let minor = number(parts[2][(colon + 1)...]),
                  let dash = parts.firstIndex(where: { $0.elementsEqual("-".utf8) }), dash + 2 < parts.count
            else { continue }
            result.append(Mount(
                device: DeviceNumber(major: UInt32(truncatingIfNeeded: major), minor: UInt32(truncatingIfNeeded: minor)),
                mountPoint: unescapeOctal(parts[4]),
                fsType: string(parts[dash + 1]),
                source: unescapeOctal(parts[dash + 2])))
        }
        return result
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescapeOctal(_ field: ArraySlice<UInt8>) -> String {
        guard field.contains(0x5C) else { return string(field) }
        var out: [UInt8] = []
        var index = field.startIndex
        while index < field.endIndex {
            let byte = field[index]
            if byte == 0x5C, field.distance(from: index, to: field.endIndex) >= 4 {
                let digits = field[(index + 1)...(index + 3)]
                if digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) {
                    out.append(digits.reduce(0) { $0 &* 8 &+ ($1 - 0x30) })
                    index += 4
                    continue
                }
            }
            out.append(byte)
            index += 1
        }
        return string(out)
    }

    /// /proc/partitions: "major minor #blocks name" after a header.
    static func partitions(_ bytes: [UInt8]) -> [(device: DeviceNumber, name: String)] {
        var result: [(DeviceNumber, String)] = []
        for line in lines(bytes) {
            let parts = fields(line)
            guard parts.count >= 4, let major = number(parts[0]), let minor = number(parts[1]) else { continue }
            result.append((DeviceNumber(major: UInt32(truncatingIfNeeded: major), minor: UInt32(truncatingIfNeeded: minor)), string(parts[3])))
        }
        return result
    }

    /// /etc/os-release style KEY=value, with optional quotes.
    static func osRelease(_ bytes: [UInt8]) -> [String: String] {
        var result: [String: String] = [:]
        for line in lines(bytes) {
            guard let equals = line.firstIndex(of: 0x3D) else { continue }
            var value = line[(equals + 1)...]
            if value.count >= 2, let first = value.first, first == 0x22 || first == 0x27, value.last == first {
                value = value.dropFirst().dropLast()
            }
            result[string(line[..<equals])] = string(value)
        }
        return result
    }

    /// /proc/PID/stat fields after the command name: state is field 3; utime 14, stime 15,
    /// starttime 22, vsize 23, rss 24 (1-based, as proc(5) numbers them).
    static func procStatFields(_ bytes: [UInt8]) -> [ArraySlice<UInt8>]? {
        guard let close = bytes.lastIndex(of: 0x29) else { return nil }  // ')'
        return fields(bytes[(close + 1)...])  // [0] is field 3 (state)
    }
}
