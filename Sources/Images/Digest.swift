import Crypto

/// A content digest, `sha256:<64 lowercase hex>`. Only sha256 is accepted: it is what every
/// registry and tool emits, and refusing the rest keeps file names derived from digests safe
/// (the hex part is validated before it is ever used as a path component).
public struct Digest: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The 64 lowercase hex characters.
    public let hex: String

    public init(hex: String) throws {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
            throw ImageError.invalidDocument(what: "digest", reason: "\"\(hex)\" is not 64 lowercase hex characters")
        }
        self.hex = hex
    }

    /// Parses `sha256:<hex>`.
    public init(parsing text: String) throws {
        guard text.hasPrefix("sha256:") else {
            if text.contains(":") {
                throw ImageError.unsupported("digest algorithm of \"\(text)\" (only sha256)")
            }
            throw ImageError.invalidDocument(what: "digest", reason: "\"\(text)\" lacks the sha256: prefix")
        }
        try self.init(hex: String(text.dropFirst(7)))
    }

    public var description: String { "sha256:" + hex }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.hex < rhs.hex }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(parsing: text)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// sha256 of `bytes`.
    public static func of<Bytes: Sequence>(_ bytes: Bytes) -> Digest where Bytes.Element == UInt8 {
        var hasher = DigestHasher()
        hasher.update(Array(bytes))
        return hasher.finalize()
    }

    /// The OCI chain id of a layer stack (bottom first): the first layer's diff id, then
    /// `sha256(parentChainID + " " + diffID)` for each layer above.
    public static func chainID(of diffIDs: [Digest]) -> Digest? {
        guard var chain = diffIDs.first else { return nil }
        for diffID in diffIDs.dropFirst() {
            chain = Digest.of(Array("\(chain) \(diffID)".utf8))
        }
        return chain
    }
}

/// Incremental sha256 (swift-crypto, which uses the CPU's SHA extensions through BoringSSL).
public struct DigestHasher {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
    }

    public func finalize() -> Digest {
        let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in hasher.finalize() {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        // Hex we produced ourselves is always valid.
        return Digest(trustedHex: String(decoding: out, as: UTF8.self))
    }
}

extension Digest {
    fileprivate init(trustedHex: String) { self.hex = trustedHex }
}
