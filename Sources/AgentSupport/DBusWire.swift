/// The D-Bus marshalling format: values aligned to their natural size relative to the start of
/// the message, integers in the message's byte order (we send little-endian and read both).
struct DBusEncoder {
    private(set) var bytes: [UInt8] = []

    /// Arrays may hold at most 64 MiB (the spec's limit), a whole message 128 MiB.
    static let maxArrayLength = 64 * 1024 * 1024

    mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        pad(to: MemoryLayout<T>.size)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func encode(_ values: [DBusValue]) throws {
        for value in values { try encode(value, depth: 0) }
    }

    mutating func encode(_ value: DBusValue, depth: Int) throws {
        guard depth <= DBusSignature.maxDepth else { throw DBusError.protocolError("value nested too deep to send") }
        switch value {
        case .byte(let v): bytes.append(v)
        case .boolean(let v): append(UInt32(v ? 1 : 0))
        case .int16(let v): append(v)
        case .uint16(let v): append(v)
        case .int32(let v): append(v)
        case .uint32(let v): append(v)
        case .int64(let v): append(v)
        case .uint64(let v): append(v)
        case .double(let v): append(v.bitPattern)
        case .unixFD(let index): append(index)
        case .string(let s):
            try appendString(s, what: "string")
        case .objectPath(let p):
            guard DBusMessage.isValidObjectPath(p) else { throw DBusError.protocolError("invalid object path \"\(p)\"") }
            try appendString(p, what: "object path")
        case .signature(let g):
            _ = try DBusSignature.split(g)
            appendSignature(g)
        case .array(let element, let items):
            guard try DBusSignature.split("a" + element).count == 1 else {
                throw DBusError.protocolError("array element signature \"\(element)\" is not one complete type")
            }
            append(UInt32(0))
            let lengthAt = bytes.count - 4
            pad(to: DBusSignature.alignment(element.utf8.first ?? 0))
            let start = bytes.count
            for item in items {
                guard item.signature == element else {
                    throw DBusError.protocolError("array of \(element) holds a \(item.signature)")
                }
                try encode(item, depth: depth + 1)
            }
            let length = bytes.count - start
            guard length <= Self.maxArrayLength else { throw DBusError.protocolError("array longer than 64 MiB") }
            withUnsafeBytes(of: UInt32(length).littleEndian) { raw in
                for i in 0..<4 { bytes[lengthAt + i] = raw[i] }
            }
        case .structure(let fields):
            guard !fields.isEmpty else { throw DBusError.protocolError("empty struct") }
            pad(to: 8)
            for field in fields { try encode(field, depth: depth + 1) }
        case .dictEntry(let key, let value):
            pad(to: 8)
            try encode(key, depth: depth + 1)
            try encode(value, depth: depth + 1)
        case .variant(let inner):
            appendSignature(inner.signature)
            try encode(inner, depth: depth + 1)
        }
    }

    private mutating func appendString(_ s: String, what: String) throws {
        let utf8 = Array(s.utf8)
        guard !utf8.contains(0) else { throw DBusError.protocolError("\(what) contains a NUL byte") }
        append(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
        bytes.append(0)
    }

    private mutating func appendSignature(_ g: String) {
        let utf8 = Array(g.utf8)
        bytes.append(UInt8(utf8.count))
        bytes.append(contentsOf: utf8)
        bytes.append(0)
    }
}

/// Reads values back, checking every length and offset against the message so a malformed or
/// hostile message is an error, never a crash or an over-read.
struct DBusDecoder {
    let bytes: [UInt8]
    let littleEndian: Bool
    var offset: Int
    let end: Int

    init(bytes: [UInt8], littleEndian: Bool, offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.littleEndian = littleEndian
        self.offset = offset
        self.end = min(end ?? bytes.count, bytes.count)
    }

    mutating func align(_ alignment: Int) throws {
        let aligned = (offset + alignment - 1) / alignment * alignment
        guard aligned <= end else { throw DBusError.protocolError("message ends inside padding at offset \(offset)") }
        offset = aligned
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = MemoryLayout<T>.size
        try align(size)
        guard offset + size <= end else { throw DBusError.protocolError("message ends inside a \(size)-byte integer at offset \(offset)") }
        var value: T = 0
        for i in 0..<size {
            let byte = T(truncatingIfNeeded: bytes[offset + i])
            value |= littleEndian ? byte << (8 * i) : byte << (8 * (size - 1 - i))
        }
        offset += size
        return value
    }

    mutating func readByte() throws -> UInt8 {
        guard offset < end else { throw DBusError.protocolError("message ends at offset \(offset), a byte expected") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Decodes one value per complete type of `signature`.
    mutating func decode(signature: String) throws -> [DBusValue] {
        try DBusSignature.split(signature).map { try decodeOne(Array($0.utf8), depth: 0) }
    }

    mutating func decodeOne(_ type: [UInt8], depth: Int) throws -> DBusValue {
        guard depth <= DBusSignature.maxDepth, let code = type.first else {
            throw DBusError.protocolError("value nested too deep")
        }
        switch code {
        case UInt8(ascii: "y"): return .byte(try readByte())
        case UInt8(ascii: "b"):
            let raw = try read(UInt32.self)
            guard raw <= 1 else { throw DBusError.protocolError("boolean with value \(raw)") }
            return .boolean(raw == 1)
        case UInt8(ascii: "n"): return .int16(try read(Int16.self))
        case UInt8(ascii: "q"): return .uint16(try read(UInt16.self))
        case UInt8(ascii: "i"): return .int32(try read(Int32.self))
        case UInt8(ascii: "u"): return .uint32(try read(UInt32.self))
        case UInt8(ascii: "x"): return .int64(try read(Int64.self))
        case UInt8(ascii: "t"): return .uint64(try read(UInt64.self))
        case UInt8(ascii: "d"): return .double(Double(bitPattern: try read(UInt64.self)))
        case UInt8(ascii: "h"): return .unixFD(try read(UInt32.self))
        case UInt8(ascii: "s"): return .string(try readString())
        case UInt8(ascii: "o"):
            let path = try readString()
            guard DBusMessage.isValidObjectPath(path) else { throw DBusError.protocolError("invalid object path \"\(path)\"") }
            return .objectPath(path)
        case UInt8(ascii: "g"): return .signature(try readSignature())
        case UInt8(ascii: "v"):
            let inner = try readSignature()
            guard try DBusSignature.split(inner).count == 1 else {
                throw DBusError.protocolError("variant signature \"\(inner)\" is not one complete type")
            }
            return .variant(try decodeOne(Array(inner.utf8), depth: depth + 1))
        case UInt8(ascii: "a"):
            let element = Array(type.dropFirst())
            let length = Int(try read(UInt32.self))
            guard length <= DBusEncoder.maxArrayLength else { throw DBusError.protocolError("array length \(length) over 64 MiB") }
            try align(DBusSignature.alignment(element.first ?? 0))
            let stop = offset + length
            guard stop <= end else { throw DBusError.protocolError("array of \(length) bytes runs past the message end") }
            var items: [DBusValue] = []
            while offset < stop {
                items.append(try decodeOne(element, depth: depth + 1))
            }
            guard offset == stop else { throw DBusError.protocolError("array elements overrun its length") }
            return .array(elementSignature: String(decoding: element, as: UTF8.self), items)
        case UInt8(ascii: "("):
            try align(8)
            let inner = String(decoding: type.dropFirst().dropLast(), as: UTF8.self)
            return .structure(try DBusSignature.split(inner).map { try decodeOne(Array($0.utf8), depth: depth + 1) })
        case UInt8(ascii: "{"):
            try align(8)
            let inner = try DBusSignature.split("a" + String(decoding: type, as: UTF8.self))
            guard inner.count == 1, type.count >= 4 else { throw DBusError.protocolError("malformed dict entry type") }
            let key = try decodeOne([type[1]], depth: depth + 1)
            let value = try decodeOne(Array(type[2..<(type.count - 1)]), depth: depth + 1)
            return .dictEntry(key: key, value: value)
        default:
            throw DBusError.protocolError("unknown type code \(code)")
        }
    }

    mutating func readString() throws -> String {
        let length = Int(try read(UInt32.self))
        guard length < end, offset + length < end else { throw DBusError.protocolError("string of \(length) bytes runs past the message end") }
        let utf8 = bytes[offset..<(offset + length)]
        guard bytes[offset + length] == 0, !utf8.contains(0) else { throw DBusError.protocolError("string not NUL-terminated or with an inner NUL") }
        guard let text = String(validating: utf8, as: UTF8.self) else { throw DBusError.protocolError("string is not valid UTF-8") }
        offset += length + 1
        return text
    }

    mutating func readSignature() throws -> String {
        let length = Int(try readByte())
        guard offset + length < end, bytes[offset + length] == 0 else { throw DBusError.protocolError("signature runs past the message end") }
        let text = String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
        offset += length + 1
        _ = try DBusSignature.split(text)
        return text
    }
}
