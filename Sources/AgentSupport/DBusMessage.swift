import LinuxPrimitives

/// One D-Bus message: a fixed 12-byte header, the header fields `a(yv)`, padding to 8, the body.
/// Descriptors (`h` values index into `fds`) travel beside the bytes as SCM_RIGHTS.
public struct DBusMessage: Sendable {
    public enum Kind: UInt8, Sendable {
        case methodCall = 1, methodReturn = 2, error = 3, signal = 4
    }

    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let noReplyExpected = Flags(rawValue: 0x1)
        public static let noAutoStart = Flags(rawValue: 0x2)
        public static let allowInteractiveAuthorization = Flags(rawValue: 0x4)
    }

    public var kind: Kind
    public var flags: Flags = []
    /// Set by the connection when sending.
    public var serial: UInt32 = 0
    public var path: String?
    public var interface: String?
    public var member: String?
    public var errorName: String?
    public var replySerial: UInt32?
    public var destination: String?
    public var sender: String?
    public var body: [DBusValue] = []
    /// Descriptors carried by this message; received ones are owned by whoever takes the message.
    public var fds: [Int32] = []

    public init(kind: Kind) { self.kind = kind }

    /// A method call, e.g. `org.freedesktop.login1.Manager.Inhibit` on `/org/freedesktop/login1`.
    public static func methodCall(destination: String, path: String, interface: String, member: String,
                                  body: [DBusValue] = [], fds: [Int32] = []) -> DBusMessage {
        var m = DBusMessage(kind: .methodCall)
        m.destination = destination
        m.path = path
        m.interface = interface
        m.member = member
        m.body = body
        m.fds = fds
        return m
    }

    public static func signal(path: String, interface: String, member: String, body: [DBusValue] = [], fds: [Int32] = []) -> DBusMessage {
        var m = DBusMessage(kind: .signal)
        m.path = path
        m.interface = interface
        m.member = member
        m.body = body
        m.fds = fds
        return m
    }

    /// The body's signature: the concatenated signatures of its values.
    public var signature: String { body.map(\.signature).joined() }

    // Header field codes from the specification.
    enum Field: UInt8 {
        case path = 1, interface, member, errorName, replySerial, destination, sender, signature, unixFDs
    }

    /// The bytes on the wire, little-endian, with `serial`.
    public func encoded(serial: UInt32) throws -> [UInt8] {
        guard serial != 0 else { throw DBusError.protocolError("serial 0 is reserved") }
        switch kind {
        case .methodCall:
            guard path != nil, member != nil else { throw DBusError.protocolError("method call without path or member") }
        case .signal:
            guard path != nil, interface != nil, member != nil else { throw DBusError.protocolError("signal without path, interface or member") }
        case .error:
            guard errorName != nil, replySerial != nil else { throw DBusError.protocolError("error without name or reply serial") }
        case .methodReturn:
            guard replySerial != nil else { throw DBusError.protocolError("method return without reply serial") }
        }
        var fields: [DBusValue] = []
        func field(_ code: Field, _ value: DBusValue) { fields.append(.structure([.byte(code.rawValue), .variant(value)])) }
        if let path { field(.path, .objectPath(path)) }
        if let interface { field(.interface, .string(interface)) }
        if let member { field(.member, .string(member)) }
        if let errorName { field(.errorName, .string(errorName)) }
        if let replySerial { field(.replySerial, .uint32(replySerial)) }
        if let destination { field(.destination, .string(destination)) }
        if let sender { field(.sender, .string(sender)) }
        if !body.isEmpty { field(.signature, .signature(signature)) }
        if !fds.isEmpty { field(.unixFDs, .uint32(UInt32(fds.count))) }

        var bodyEncoder = DBusEncoder()
        try bodyEncoder.encode(body)
        var header = DBusEncoder()
        try header.encode([.byte(UInt8(ascii: "l")), .byte(kind.rawValue), .byte(flags.rawValue), .byte(1),
                           .uint32(UInt32(bodyEncoder.bytes.count)), .uint32(serial),
                           .array(elementSignature: "(yv)", fields)])
        header.pad(to: 8)
        let total = header.bytes.count + bodyEncoder.bytes.count
        guard total <= Self.maxMessageLength else { throw DBusError.protocolError("message of \(total) bytes over 128 MiB") }
        return header.bytes + bodyEncoder.bytes
    }

    static let maxMessageLength = 128 * 1024 * 1024

    /// Total length of the message starting at `prefix`, once its first 16 bytes are there
    /// (nil before); a length over the limit or a bad byte-order mark is an error.
    public static func frameLength(_ prefix: ArraySlice<UInt8>) throws -> Int? {
        guard prefix.count >= 16 else { return nil }
        let start = prefix.startIndex
        let order = prefix[start]
        guard order == UInt8(ascii: "l") || order == UInt8(ascii: "B") else {
            throw DBusError.protocolError("bad byte-order mark \(order)")
        }
        var decoder = DBusDecoder(bytes: Array(prefix[start..<(start + 16)]), littleEndian: order == UInt8(ascii: "l"), offset: 4)
        let bodyLength = Int(try decoder.read(UInt32.self))
        _ = try decoder.read(UInt32.self)
        let fieldsLength = Int(try decoder.read(UInt32.self))
        guard bodyLength <= maxMessageLength, fieldsLength <= maxMessageLength else {
            throw DBusError.protocolError("message lengths over 128 MiB")
        }
        let headerLength = (16 + fieldsLength + 7) / 8 * 8
        let total = headerLength + bodyLength
        guard total <= maxMessageLength else { throw DBusError.protocolError("message of \(total) bytes over 128 MiB") }
        return total
    }

    /// Parses one complete message (exactly `frameLength` bytes). `fds` are the descriptors that
    /// came with it; the UNIX_FDS header field must account for them.
    public static func decode(_ bytes: [UInt8], fds: [Int32] = []) throws -> DBusMessage {
        guard let total = try frameLength(bytes[...]), total == bytes.count else {
            throw DBusError.protocolError("incomplete message (\(bytes.count) bytes)")
        }
        let little = bytes[0] == UInt8(ascii: "l")
        guard let kind = Kind(rawValue: bytes[1]) else { throw DBusError.protocolError("unknown message type \(bytes[1])") }
        guard bytes[3] == 1 else { throw DBusError.protocolError("protocol version \(bytes[3])") }
        var decoder = DBusDecoder(bytes: bytes, littleEndian: little, offset: 4)
        let bodyLength = Int(try decoder.read(UInt32.self))
        var message = DBusMessage(kind: kind)
        message.flags = Flags(rawValue: bytes[2])
        message.serial = try decoder.read(UInt32.self)
        guard message.serial != 0 else { throw DBusError.protocolError("message with serial 0") }
        guard case .array(_, let fields) = try decoder.decodeOne(Array("a(yv)".utf8), depth: 0) else {
            throw DBusError.protocolError("header fields")
        }
        var signature = ""
        var fdCount = 0
        for entry in fields {
            guard case .structure(let pair) = entry, pair.count == 2, case .byte(let code) = pair[0],
                  case .variant(let value) = pair[1] else { throw DBusError.protocolError("header field shape") }
            switch (Field(rawValue: code), value) {
            case (.path, .objectPath(let v)): message.path = v
            case (.interface, .string(let v)): message.interface = v
            case (.member, .string(let v)): message.member = v
            case (.errorName, .string(let v)): message.errorName = v
            case (.replySerial, .uint32(let v)): message.replySerial = v
            case (.destination, .string(let v)): message.destination = v
            case (.sender, .string(let v)): message.sender = v
            case (.signature, .signature(let v)): signature = v
            case (.unixFDs, .uint32(let v)): fdCount = Int(v)
            case (nil, _): continue  // unknown fields are ignored, as the spec requires
            default: throw DBusError.protocolError("header field \(code) has type \(value.signature)")
            }
        }
        guard fdCount <= fds.count else {
            throw DBusError.protocolError("message names \(fdCount) descriptors, \(fds.count) arrived")
        }
        message.fds = Array(fds.prefix(fdCount))
        try decoder.align(8)
        let bodyStart = decoder.offset
        guard bodyStart + bodyLength == bytes.count else { throw DBusError.protocolError("body length mismatch") }
        var bodyDecoder = DBusDecoder(bytes: bytes, littleEndian: little, offset: bodyStart)
        message.body = try bodyDecoder.decode(signature: signature)
        guard bodyDecoder.offset == bytes.count else {
            throw DBusError.protocolError("body has \(bytes.count - bodyDecoder.offset) bytes past signature \"\(signature)\"")
        }
        if message.body.contains(where: { $0.containsFD(beyond: fdCount) }) {
            throw DBusError.protocolError("descriptor index past the \(fdCount) the message carries")
        }
        return message
    }

    /// `/`, or `/` followed by non-empty elements of `[A-Za-z0-9_]` separated by single slashes.
    public static func isValidObjectPath(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") else { return false }
        if bytes.count == 1 { return true }
        guard bytes.last != UInt8(ascii: "/") else { return false }
        var previousSlash = false
        for b in bytes {
            if b == UInt8(ascii: "/") {
                if previousSlash { return false }
                previousSlash = true
                continue
            }
            previousSlash = false
            let ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == UInt8(ascii: "_")
            if !ok { return false }
        }
        return true
    }

    /// Closes the descriptors this message carries (when nobody takes them).
    public func closeDescriptors() {
        for fd in fds { FileDescriptor(rawValue: fd).close() }
    }
}

extension DBusValue {
    /// Whether an `h` inside refers past the message's descriptor count.
    func containsFD(beyond count: Int) -> Bool {
        switch self {
        case .unixFD(let index): return Int(index) >= count
        case .array(_, let items): return items.contains { $0.containsFD(beyond: count) }
        case .structure(let fields): return fields.contains { $0.containsFD(beyond: count) }
        case .dictEntry(let key, let value): return key.containsFD(beyond: count) || value.containsFD(beyond: count)
        case .variant(let inner): return inner.containsFD(beyond: count)
        default: return false
        }
    }
}
