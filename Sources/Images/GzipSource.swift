import CZlib

/// Layer compression, told from the first bytes rather than trusted from a media type (docker
/// archives carry no media types, and registries have been seen to mislabel).
enum Compression: Equatable {
    case none
    case gzip
    case zstd

    static func detect(_ prefix: UnsafeRawBufferPointer) -> Compression {
        if prefix.count >= 2 && prefix[0] == 0x1f && prefix[1] == 0x8b { return .gzip }
        if prefix.count >= 4 && prefix[0] == 0x28 && prefix[1] == 0xb5 && prefix[2] == 0x2f && prefix[3] == 0xfd { return .zstd }
        return .none
    }
}

/// Puts back bytes already read (the compression sniff) in front of a source.
final class PrefixedSource: ByteSource {
    private var prefix: [UInt8]
    private let upstream: ByteSource

    init(prefix: [UInt8], upstream: ByteSource) {
        self.prefix = prefix
        self.upstream = upstream
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if prefix.isEmpty { return try upstream.read(into: buffer) }
        let n = min(prefix.count, buffer.count)
        prefix.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
        prefix.removeFirst(n)
        return n
    }
}

/// Wraps `source` in a decompressor if its first bytes say it is compressed.
func decompressing(_ source: ByteSource, name: String) throws -> ByteSource {
    var head = [UInt8](repeating: 0, count: 4)
    var got = 0
    while got < head.count {
        let n = try head.withUnsafeMutableBytes { try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
        if n == 0 { break }
        got += n
    }
    head.removeSubrange(got...)
    let prefixed = PrefixedSource(prefix: head, upstream: source)
    switch head.withUnsafeBytes({ Compression.detect($0) }) {
    case .none: return prefixed
    case .gzip: return try GzipSource(prefixed, name: name)
    case .zstd: throw ImageError.unsupported("\(name): zstd-compressed layer")
    }
}

/// gzip decompression through zlib's inflate, including multi-member streams (pigz and
/// some registries concatenate members). A stream that ends before its last member does is
/// an error, never silently short data.
final class GzipSource: ByteSource {
    private let upstream: ByteSource
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var inputEOF = false
    private var memberDone = false
    private let name: String

    init(_ upstream: ByteSource, name: String) throws {
        self.upstream = upstream
        self.name = name
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(byteCount: 256 * 1024, alignment: 16)
        // 15 window bits + 16: gzip wrapper only.
        let rc = swiftlet_inflate_init2(stream, 15 + 16)
        if rc != Z_OK {
            stream.deallocate()
            input.deallocate()
            throw ImageError.corruptData(context: name, reason: "inflateInit2 failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    private func refill() throws {
        let n = try upstream.read(into: input)
        if n == 0 { inputEOF = true }
        stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(n)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if buffer.count == 0 { return 0 }
        stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(min(buffer.count, Int(UInt32.max)))
        let capacity = Int(stream.pointee.avail_out)
        while stream.pointee.avail_out > 0 {
            if memberDone {
                // After a member: more input means another member, none means the end.
                if stream.pointee.avail_in == 0 && !inputEOF { try refill() }
                if stream.pointee.avail_in == 0 { break }
                guard stream.pointee.next_in.pointee == 0x1f else {
                    throw ImageError.corruptData(context: name, reason: "trailing garbage after the gzip stream")
                }
                inflateReset(stream)
                memberDone = false
            }
            if stream.pointee.avail_in == 0 {
                if inputEOF {
                    throw ImageError.corruptData(context: name, reason: "gzip stream truncated (unexpected end of data)")
                }
                try refill()
                if inputEOF && stream.pointee.avail_in == 0 {
                    throw ImageError.corruptData(context: name, reason: "gzip stream truncated (unexpected end of data)")
                }
            }
            let rc = inflate(stream, Z_NO_FLUSH)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                continue
            case Z_STREAM_END:
                memberDone = true
                // Return what we have; the next call looks for another member.
                let produced = capacity - Int(stream.pointee.avail_out)
                if produced > 0 { return produced }
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw ImageError.corruptData(context: name, reason: "gzip data corrupt: \(message)")
            }
        }
        return capacity - Int(stream.pointee.avail_out)
    }
}
