import Foundation

/// Reads CRI log files (`<time> <stream> <P|F> <text>`) back into what `kubectl logs` shows:
/// partial lines joined, optional timestamps, the last N lines, and following a live file.
public struct ContainerLogReader: Sendable {
    public let path: String
    public var timestamps = false
    public var tailLines: Int? = nil

    public init(path: String, timestamps: Bool = false, tailLines: Int? = nil) {
        self.path = path
        self.timestamps = timestamps
        self.tailLines = tailLines
    }

    /// Whole log as the user sees it, plus the byte offset reached (for following).
    public func read() -> (text: [UInt8], offset: UInt64) {
        guard let data = FileManager.default.contents(atPath: path) else { return ([], 0) }
        let complete = data.lastIndex(of: 0x0A).map { data.index(after: $0) } ?? data.startIndex
        var lines = render(Array(data[data.startIndex..<complete]))
        if let n = tailLines, n >= 0, lines.count > n { lines = Array(lines.suffix(n)) }
        return (lines.flatMap { $0 }, UInt64(complete - data.startIndex))
    }

    /// Converts complete CRI records into output lines (each with its newline, if full).
    func render(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var partial: [UInt8] = []
        var partialTime: ArraySlice<UInt8>? = nil
        for record in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
            // time SP stream SP tag SP content
            var fields: [ArraySlice<UInt8>] = []
            var start = record.startIndex
            for i in record.indices where record[i] == 0x20 && fields.count < 3 {
                fields.append(record[start..<i])
                start = i + 1
            }
            guard fields.count == 3 else { continue }
            let content = record[start...]
            let full = fields[2].first == UInt8(ascii: "F")
            if partialTime == nil { partialTime = fields[0] }
            partial.append(contentsOf: content)
            if full {
                var line: [UInt8] = []
                if timestamps, let t = partialTime {
                    line.append(contentsOf: t)
                    line.append(0x20)
                }
                line.append(contentsOf: partial)
                line.append(0x0A)
                out.append(line)
                partial.removeAll(keepingCapacity: true)
                partialTime = nil
            }
        }
        return out
    }

    /// New complete records after `offset`, rendered; returns the new offset.
    public func readFrom(_ offset: UInt64) -> (text: [UInt8], offset: UInt64) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ([], offset) }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        // A rotated (shorter) file starts over.
        let from = size < offset ? 0 : offset
        try? handle.seek(toOffset: from)
        let data = handle.readDataToEndOfFile()
        guard let last = data.lastIndex(of: 0x0A) else { return ([], from) }
        let complete = data[data.startIndex...last]
        return (render(Array(complete)).flatMap { $0 }, from + UInt64(complete.count))
    }
}
