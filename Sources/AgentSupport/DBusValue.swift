/// A value of the D-Bus type system, as it travels in a message body. Only what a client of
/// system services needs; every container carries enough to know its own signature, so an empty
/// array still marshals correctly.
public indirect enum DBusValue: Sendable, Hashable {
    case byte(UInt8)
    case boolean(Bool)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case double(Double)
    case string(String)
    case objectPath(String)
    case signature(String)
    /// An index into the message's descriptors (`DBusMessage.fds`), not a descriptor itself.
    case unixFD(UInt32)
    case array(elementSignature: String, [DBusValue])
    case structure([DBusValue])
    case dictEntry(key: DBusValue, value: DBusValue)
    case variant(DBusValue)

    /// The value's complete type signature, e.g. `a{sv}`.
    public var signature: String {
        switch self {
        case .byte: return "y"
        case .boolean: return "b"
        case .int16: return "n"
        case .uint16: return "q"
        case .int32: return "i"
        case .uint32: return "u"
        case .int64: return "x"
        case .uint64: return "t"
        case .double: return "d"
        case .string: return "s"
        case .objectPath: return "o"
        case .signature: return "g"
        case .unixFD: return "h"
        case .array(let element, _): return "a" + element
        case .structure(let fields): return "(" + fields.map(\.signature).joined() + ")"
        case .dictEntry(let key, let value): return "{" + key.signature + value.signature + "}"
        case .variant: return "v"
        }
    }

    // Accessors that say what a reply holds, for callers that know what they asked for.
    public var stringValue: String? {
        switch self {
        case .string(let s), .objectPath(let s), .signature(let s): return s
        case .variant(let inner): return inner.stringValue
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case .boolean(let b) = self { return b }
        if case .variant(let inner) = self { return inner.boolValue }
        return nil
    }

    /// Any unsigned or non-negative integer, widened.
    public var uint64Value: UInt64? {
        switch self {
        case .byte(let v): return UInt64(v)
        case .uint16(let v): return UInt64(v)
        case .uint32(let v): return UInt64(v)
        case .uint64(let v): return v
        case .int16(let v): return v >= 0 ? UInt64(v) : nil
        case .int32(let v): return v >= 0 ? UInt64(v) : nil
        case .int64(let v): return v >= 0 ? UInt64(v) : nil
        case .variant(let inner): return inner.uint64Value
        default: return nil
        }
    }

    public var arrayValue: [DBusValue]? {
        if case .array(_, let items) = self { return items }
        if case .variant(let inner) = self { return inner.arrayValue }
        return nil
    }

    public var structureValue: [DBusValue]? {
        if case .structure(let fields) = self { return fields }
        return nil
    }
}

/// Signature grammar: splitting a signature into complete types and checking it is well formed.
public enum DBusSignature {
    /// Containers may nest 32 arrays and 32 structs deep (the spec's limits); deeper input is
    /// refused rather than recursed into.
    static let maxDepth = 64
    static let maxLength = 255

    /// Splits `sig` into single complete types: `"sa{sv}as"` -> `["s", "a{sv}", "as"]`.
    public static func split(_ sig: String) throws -> [String] {
        let chars = Array(sig.utf8)
        guard chars.count <= maxLength else { throw DBusError.protocolError("signature longer than 255: \(sig)") }
        var result: [String] = []
        var index = 0
        while index < chars.count {
            let end = try completeTypeEnd(chars, index, depth: 0, signature: sig)
            result.append(String(decoding: chars[index..<end], as: UTF8.self))
            index = end
        }
        return result
    }

    /// The index just past the single complete type starting at `start`.
    static func completeTypeEnd(_ chars: [UInt8], _ start: Int, depth: Int, signature: String) throws -> Int {
        guard depth <= maxDepth else { throw DBusError.protocolError("signature nested too deep: \(signature)") }
        guard start < chars.count else { throw DBusError.protocolError("signature ends inside a type: \(signature)") }
        switch chars[start] {
        case UInt8(ascii: "y"), UInt8(ascii: "b"), UInt8(ascii: "n"), UInt8(ascii: "q"), UInt8(ascii: "i"),
             UInt8(ascii: "u"), UInt8(ascii: "x"), UInt8(ascii: "t"), UInt8(ascii: "d"), UInt8(ascii: "s"),
             UInt8(ascii: "o"), UInt8(ascii: "g"), UInt8(ascii: "h"), UInt8(ascii: "v"):
            return start + 1
        case UInt8(ascii: "a"):
            return try completeTypeEnd(chars, start + 1, depth: depth + 1, signature: signature)
        case UInt8(ascii: "("):
            var index = start + 1
            guard index < chars.count, chars[index] != UInt8(ascii: ")") else {
                throw DBusError.protocolError("empty struct in signature: \(signature)")
            }
            while index < chars.count, chars[index] != UInt8(ascii: ")") {
                index = try completeTypeEnd(chars, index, depth: depth + 1, signature: signature)
            }
            guard index < chars.count else { throw DBusError.protocolError("unclosed struct in signature: \(signature)") }
            return index + 1
        case UInt8(ascii: "{"):
            // Only valid as an array element; key is a basic type, then exactly one value type.
            guard start > 0, chars[start - 1] == UInt8(ascii: "a") else {
                throw DBusError.protocolError("dict entry outside an array in signature: \(signature)")
            }
            let keyEnd = try completeTypeEnd(chars, start + 1, depth: depth + 1, signature: signature)
            guard keyEnd == start + 2, !"av({".utf8.contains(chars[start + 1]) else {
                throw DBusError.protocolError("dict key must be a basic type in signature: \(signature)")
            }
            let valueEnd = try completeTypeEnd(chars, keyEnd, depth: depth + 1, signature: signature)
            guard valueEnd < chars.count, chars[valueEnd] == UInt8(ascii: "}") else {
                throw DBusError.protocolError("dict entry must hold one key and one value in signature: \(signature)")
            }
            return valueEnd + 1
        default:
            throw DBusError.protocolError("unknown type code '\(String(UnicodeScalar(chars[start])))' in signature: \(signature)")
        }
    }

    /// Alignment of a type on the wire, from its first code.
    static func alignment(_ code: UInt8) -> Int {
        switch code {
        case UInt8(ascii: "y"), UInt8(ascii: "g"), UInt8(ascii: "v"): return 1
        case UInt8(ascii: "n"), UInt8(ascii: "q"): return 2
        case UInt8(ascii: "x"), UInt8(ascii: "t"), UInt8(ascii: "d"), UInt8(ascii: "("), UInt8(ascii: "{"): return 8
        default: return 4
        }
    }
}

/// What can go wrong talking D-Bus: the peer's error replies keep their D-Bus error name.
public enum DBusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An error reply: `org.freedesktop.DBus.Error.AccessDenied`, and the peer's message.
    case remote(name: String, message: String)
    /// Bytes that break the wire format (from the peer) or a value we were asked to send that
    /// cannot be sent; the text says what and where.
    case protocolError(String)
    /// Authentication refused, or the bus answered something else than the SASL exchange expects.
    case authenticationFailed(String)
    /// The connection is gone (closed by us, or end of stream from the bus).
    case disconnected(String)
    /// No reply within the call's timeout.
    case timedOut(String)

    public var description: String {
        switch self {
        case .remote(let name, let message): return "D-Bus error \(name): \(message)"
        case .protocolError(let text): return "D-Bus protocol error: \(text)"
        case .authenticationFailed(let text): return "D-Bus authentication failed: \(text)"
        case .disconnected(let text): return "D-Bus disconnected: \(text)"
        case .timedOut(let text): return "D-Bus call timed out: \(text)"
        }
    }
}
