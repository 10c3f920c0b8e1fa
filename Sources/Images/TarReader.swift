/// One tar member, with GNU long names and PAX records already folded in.
struct TarEntry {
    enum Kind: Equatable {
        case regular
        case hardLink
        case symlink
        case characterDevice
        case blockDevice
        case directory
        case fifo
    }

    /// The path as written in the archive (not yet validated: see `EntryPath`).
    var path: String
    var kind: Kind
    var linkName: String
    /// Permission bits including setuid/setgid/sticky (07777).
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var size: Int64
    var mtimeSeconds: Int
    var mtimeNanoseconds: Int
    var deviceMajor: UInt32
    var deviceMinor: UInt32
    /// From PAX `SCHILY.xattr.<name>` records, in archive order.
    var xattrs: [(name: String, value: [UInt8])]
}

/// Reads tar members: ustar, GNU (long names/links `L`/`K`, base-256 numbers) and PAX
/// (`x` per-entry and `g` global records: path, linkpath, size, uid, gid, mtime,
/// SCHILY.xattr.*). Header checksums are verified, so a corrupt or non-tar stream stops at
/// the first bad header instead of producing garbage files.
final class TarReader {
    let input: BufferedInput
    /// What error messages call this stream ("layer sha256:…").
    let name: String
    private var globalPax: [String: [UInt8]] = [:]
    private var pendingData: Int64 = 0
    private var finished = false

    init(_ input: BufferedInput, name: String) {
        self.input = input
        self.name = name
    }

    /// Offset in the stream where the current entry's data begins (outer-archive indexing).
    private(set) var dataOffset: Int64 = 0

    /// The next entry, or nil at the end-of-archive marker. Unread data of the previous entry
    /// is skipped first.
    func next() throws -> TarEntry? {
        if finished { return nil }
        try skipData()
        var longName: String?
        var longLink: String?
        var pax: [String: [UInt8]] = [:]
        while true {
            guard let block = try input.readExactly(512, context: "\(name): tar header at offset \(input.position)") else {
                // End of stream without the zero blocks: accepted (many writers omit them).
                finished = true
                return nil
            }
            if block.allSatisfy({ $0 == 0 }) {
                finished = true
                return nil
            }
            let header = try TarHeader(block, stream: name, offset: input.position - 512)
            let size = header.size
            switch header.typeflag {
            case UInt8(ascii: "L"):
                longName = cString(try readRecord(size, what: "GNU long name"))
                continue
            case UInt8(ascii: "K"):
                longLink = cString(try readRecord(size, what: "GNU long link name"))
                continue
            case UInt8(ascii: "x"):
                for (key, value) in try parsePax(try readRecord(size, what: "PAX header")) { pax[key] = value }
                continue
            case UInt8(ascii: "g"):
                for (key, value) in try parsePax(try readRecord(size, what: "PAX global header")) { globalPax[key] = value }
                continue
            case UInt8(ascii: "V"):
                try input.skip(padded(size), context: name)
                continue
            default:
                break
            }
            var records = globalPax
            for (key, value) in pax { records[key] = value }
            var entry = TarEntry(
                path: longName ?? header.name, kind: .regular, linkName: longLink ?? header.linkName,
                mode: header.mode & 0o7777, uid: header.uid, gid: header.gid, size: size,
                mtimeSeconds: header.mtime, mtimeNanoseconds: 0,
                deviceMajor: header.deviceMajor, deviceMinor: header.deviceMinor, xattrs: [])
            try apply(records, to: &entry)
            switch header.typeflag {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): entry.kind = .regular
            case UInt8(ascii: "1"): entry.kind = .hardLink
            case UInt8(ascii: "2"): entry.kind = .symlink
            case UInt8(ascii: "3"): entry.kind = .characterDevice
            case UInt8(ascii: "4"): entry.kind = .blockDevice
            case UInt8(ascii: "5"): entry.kind = .directory
            case UInt8(ascii: "6"): entry.kind = .fifo
            case UInt8(ascii: "S"):
                throw ImageError.unsupportedEntry(entry: entry.path, reason: "GNU sparse file")
            default:
                let flag = String(decoding: [header.typeflag], as: UTF8.self)
                throw ImageError.unsupportedEntry(entry: entry.path, reason: "tar type flag '\(flag)'")
            }
            if records.keys.contains(where: { $0.hasPrefix("GNU.sparse.") }) {
                throw ImageError.unsupportedEntry(entry: entry.path, reason: "PAX sparse file")
            }
            // Only regular files carry data (hard links and others: size is informational).
            if entry.kind != .regular { entry.size = 0 }
            pendingData = entry.size
            dataOffset = input.position
            return entry
        }
    }

    /// Hands the current entry's data to `body` chunk by chunk.
    func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let count = pendingData
        pendingData = 0
        try input.forEachChunk(count, context: "\(name): data of entry at offset \(dataOffset)", body)
        try input.skip(padding(count), context: name)
    }

    /// Skips whatever of the current entry's data was not read.
    func skipData() throws {
        if pendingData > 0 {
            let count = pendingData
            pendingData = 0
            try input.skip(padded(count), context: "\(name): data of entry at offset \(dataOffset)")
        }
    }

    private func padding(_ size: Int64) -> Int64 { (512 - size % 512) % 512 }
    private func padded(_ size: Int64) -> Int64 { size + padding(size) }

    private func readRecord(_ size: Int64, what: String) throws -> [UInt8] {
        guard size >= 0 && size <= 16 << 20 else {
            throw ImageError.corruptData(context: name, reason: "\(what) of \(size) bytes is implausible")
        }
        let bytes = try input.readBytes(Int(size), context: "\(name): \(what)")
        try input.skip(padding(size), context: name)
        return bytes
    }

    private func cString(_ bytes: [UInt8]) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: bytes[0..<end], as: UTF8.self)
    }

    /// PAX records: "<length> <key>=<value>\n", length counting the whole record.
    private func parsePax(_ bytes: [UInt8]) throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0 { break }
            var j = i
            var length = 0
            while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57, length < 1 << 24 {
                length = length * 10 + Int(bytes[j] - 48)
                j += 1
            }
            guard j < bytes.count, bytes[j] == 32, length > j - i + 1, i + length <= bytes.count,
                  bytes[i + length - 1] == 10 else {
                throw ImageError.corruptData(context: name, reason: "malformed PAX record at byte \(i)")
            }
            let record = bytes[(j + 1)..<(i + length - 1)]
            guard let eq = record.firstIndex(of: UInt8(ascii: "=")) else {
                throw ImageError.corruptData(context: name, reason: "PAX record without '=' at byte \(i)")
            }
            out.append((String(decoding: record[record.startIndex..<eq], as: UTF8.self), Array(record[(eq + 1)...])))
            i += length
        }
        return out
    }

    private func apply(_ records: [String: [UInt8]], to entry: inout TarEntry) throws {
        func text(_ key: String) -> String? { records[key].map { String(decoding: $0, as: UTF8.self) } }
        func number(_ key: String) throws -> UInt32? {
            guard let value = text(key) else { return nil }
            guard let n = UInt32(value) else {
                throw ImageError.corruptData(context: "\(name): entry \"\(entry.path)\"", reason: "PAX \(key)=\"\(value)\" is not a number")
            }
            return n
        }
        if let path = text("path") { entry.path = path }
        if let link = text("linkpath") { entry.linkName = link }
        if let uid = try number("uid") { entry.uid = uid }
        if let gid = try number("gid") { entry.gid = gid }
        if let size = text("size") {
            guard let n = Int64(size), n >= 0 else {
                throw ImageError.corruptData(context: "\(name): entry \"\(entry.path)\"", reason: "PAX size=\"\(size)\" is not a number")
            }
            entry.size = n
        }
        if let mtime = text("mtime") {
            let parts = mtime.split(separator: ".", maxSplits: 1)
            if let seconds = Int(parts[0]) {
                entry.mtimeSeconds = seconds
                if parts.count == 2 {
                    let digits = String(parts[1].prefix(9))
                    let scaled = digits + String(repeating: "0", count: 9 - digits.count)
                    entry.mtimeNanoseconds = Int(scaled) ?? 0
                    if seconds < 0 && entry.mtimeNanoseconds > 0 {
                        entry.mtimeSeconds -= 1
                        entry.mtimeNanoseconds = 1_000_000_000 - entry.mtimeNanoseconds
                    }
                }
            }
        }
        for (key, value) in records.sorted(by: { $0.key < $1.key }) where key.hasPrefix("SCHILY.xattr.") {
            entry.xattrs.append((String(key.dropFirst("SCHILY.xattr.".count)), value))
        }
    }
}

/// The fixed 512-byte header, decoded.
struct TarHeader {
    let name: String
    let mode: UInt32
    let uid: UInt32
    let gid: UInt32
    let size: Int64
    let mtime: Int
    let typeflag: UInt8
    let linkName: String
    let deviceMajor: UInt32
    let deviceMinor: UInt32

    init(_ block: UnsafeRawBufferPointer, stream: String, offset: Int64) throws {
        func field(_ start: Int, _ length: Int) -> UnsafeRawBufferPointer.SubSequence { block[start..<(start + length)] }
        func string(_ start: Int, _ length: Int) -> String {
            let bytes = field(start, length)
            let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
            return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
        }
        let context = "\(stream): tar header at offset \(offset)"
        // Checksum: the header's bytes summed with the checksum field as eight spaces.
        var unsigned = 0
        var signed = 0
        for i in 0..<512 {
            let byte = (148..<156).contains(i) ? UInt8(ascii: " ") : block[i]
            unsigned += Int(byte)
            signed += Int(Int8(bitPattern: byte))
        }
        let stored = try TarHeader.number(field(148, 8), context: context, what: "checksum")
        guard stored == Int64(unsigned) || stored == Int64(signed) else {
            throw ImageError.corruptData(context: context, reason: "bad header checksum (not a tar archive, or corrupt)")
        }
        let magic = string(257, 6)
        let ustarPrefix = magic == "ustar" ? string(345, 155) : ""
        let rawName = string(0, 100)
        name = ustarPrefix.isEmpty ? rawName : ustarPrefix + "/" + rawName
        mode = UInt32(truncatingIfNeeded: try TarHeader.number(field(100, 8), context: context, what: "mode"))
        uid = UInt32(truncatingIfNeeded: try TarHeader.number(field(108, 8), context: context, what: "uid"))
        gid = UInt32(truncatingIfNeeded: try TarHeader.number(field(116, 8), context: context, what: "gid"))
        size = try TarHeader.number(field(124, 12), context: context, what: "size")
        guard size >= 0 else { throw ImageError.corruptData(context: context, reason: "negative size") }
        mtime = Int(try TarHeader.number(field(136, 12), context: context, what: "mtime"))
        typeflag = block[156]
        linkName = string(157, 100)
        deviceMajor = UInt32(truncatingIfNeeded: try TarHeader.number(field(329, 8), context: context, what: "devmajor"))
        deviceMinor = UInt32(truncatingIfNeeded: try TarHeader.number(field(337, 8), context: context, what: "devminor"))
    }

    /// Octal ASCII (NUL/space padded) or GNU base-256 (high bit of the first byte set).
    static func number(_ bytes: UnsafeRawBufferPointer.SubSequence, context: String, what: String) throws -> Int64 {
        guard let first = bytes.first else { return 0 }
        if first & 0x80 != 0 {
            let negative = first & 0x40 != 0
            var value: Int64 = Int64(first & 0x3f)
            if negative { value = value - 0x40 }
            for byte in bytes.dropFirst() {
                guard value.magnitude < (1 << 54) else {
                    throw ImageError.corruptData(context: context, reason: "\(what) overflows")
                }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in bytes {
            if byte >= 48 && byte <= 55 {
                guard value < (1 << 60) else { throw ImageError.corruptData(context: context, reason: "\(what) overflows") }
                value = value * 8 + Int64(byte - 48)
                seenDigit = true
            } else if byte == 0 || byte == 32 {
                if seenDigit { break }
            } else {
                throw ImageError.corruptData(context: context, reason: "\(what) field is not octal")
            }
        }
        return value
    }
}
