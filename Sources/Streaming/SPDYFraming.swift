import CZlib
import NIOCore

/// SPDY/3.1 framing as the Kubernetes SPDY streams use it (moby/spdystream on the client):
/// control frames (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS,
/// WINDOW_UPDATE) and data frames, each with an 8-byte header.
enum SPDYFrame: Equatable {
    case control(type: UInt16, flags: UInt8, payload: ByteBuffer)
    case data(streamID: UInt32, flags: UInt8, payload: ByteBuffer)

    static let version: UInt32 = 3
    static let flagFin: UInt8 = 0x01
    enum ControlType {
        static let synStream: UInt16 = 1
        static let synReply: UInt16 = 2
        static let rstStream: UInt16 = 3
        static let settings: UInt16 = 4
        static let ping: UInt16 = 6
        static let goAway: UInt16 = 7
        static let headers: UInt16 = 8
        static let windowUpdate: UInt16 = 9
    }

    /// The largest payload a frame length (24 bits) can carry.
    static let maxPayload = 0xFF_FFFF

    static func writeControl(_ type: UInt16, flags: UInt8, payload: ByteBuffer, into out: inout ByteBuffer) {
        out.writeInteger(UInt32(0x8000_0000) | version << 16 | UInt32(type))
        out.writeInteger(UInt32(flags) << 24 | UInt32(payload.readableBytes))
        var copy = payload
        out.writeBuffer(&copy)
    }

    static func writeData(streamID: UInt32, flags: UInt8, payload: ByteBuffer, into out: inout ByteBuffer) {
        out.writeInteger(streamID & 0x7FFF_FFFF)
        out.writeInteger(UInt32(flags) << 24 | UInt32(payload.readableBytes))
        var copy = payload
        out.writeBuffer(&copy)
    }
}

struct SPDYProtocolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Splits the byte stream into frames.
struct SPDYFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = SPDYFrame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
              let second = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt32.self) else { return .needMoreData }
        let length = Int(second & 0xFF_FFFF)
        guard buffer.readableBytes >= 8 + length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 8)
        guard let payload = buffer.readSlice(length: length) else { return .needMoreData }
        let flags = UInt8(second >> 24)
        if first & 0x8000_0000 != 0 {
            let version = (first >> 16) & 0x7FFF
            guard version == SPDYFrame.version else { throw SPDYProtocolError("unsupported SPDY version \(version)") }
            context.fireChannelRead(wrapInboundOut(.control(type: UInt16(first & 0xFFFF), flags: flags, payload: payload)))
        } else {
            context.fireChannelRead(wrapInboundOut(.data(streamID: first & 0x7FFF_FFFF, flags: flags, payload: payload)))
        }
        return .continue
    }
}

/// SPDY/3 name/value header blocks: one zlib stream per direction and connection, primed with
/// the protocol's dictionary, each block ending in a sync flush.
final class SPDYHeaderCodec {
    private let inflater: UnsafeMutablePointer<z_stream>
    private let deflater: UnsafeMutablePointer<z_stream>

    init() throws {
        let inflater = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        inflater.initialize(to: z_stream())
        let deflater = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        deflater.initialize(to: z_stream())
        let rcIn = swiftlet_inflate_init(inflater)
        let rcOut = swiftlet_deflate_init(deflater, Z_DEFAULT_COMPRESSION)
        let rcDict = rcOut == Z_OK ? Self.dictionary.withUnsafeBufferPointer { d in
            deflateSetDictionary(deflater, d.baseAddress, uInt(d.count))
        } : rcOut
        guard rcIn == Z_OK, rcOut == Z_OK, rcDict == Z_OK else {
            if rcIn == Z_OK { inflateEnd(inflater) }
            if rcOut == Z_OK { deflateEnd(deflater) }
            inflater.deallocate()
            deflater.deallocate()
            throw SPDYProtocolError("zlib set-up failed (inflate \(rcIn), deflate \(rcOut), dictionary \(rcDict))")
        }
        self.inflater = inflater
        self.deflater = deflater
    }

    deinit {
        inflateEnd(inflater)
        deflateEnd(deflater)
        inflater.deallocate()
        deflater.deallocate()
    }

    /// Decompresses one header block into (lower-cased name, values) pairs.
    func decode(_ block: ByteBuffer) throws -> [String: [String]] {
        let raw = try inflate(Array(block.readableBytesView))
        var buf = ByteBuffer(bytes: raw)
        guard let count = buf.readInteger(as: UInt32.self) else { throw SPDYProtocolError("empty header block") }
        var headers: [String: [String]] = [:]
        for _ in 0..<count {
            guard let nameLength = buf.readInteger(as: UInt32.self), let name = buf.readString(length: Int(nameLength)),
                  let valueLength = buf.readInteger(as: UInt32.self), let value = buf.readString(length: Int(valueLength)) else {
                throw SPDYProtocolError("truncated header block")
            }
            headers[name.lowercased(), default: []] += value.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        }
        return headers
    }

    /// Compresses a header block.
    func encode(_ headers: [(String, String)]) throws -> ByteBuffer {
        var raw = ByteBuffer()
        raw.writeInteger(UInt32(headers.count))
        for (name, value) in headers {
            raw.writeInteger(UInt32(name.utf8.count))
            raw.writeString(name.lowercased())
            raw.writeInteger(UInt32(value.utf8.count))
            raw.writeString(value)
        }
        return ByteBuffer(bytes: try deflate(Array(raw.readableBytesView)))
    }

    private func inflate(_ input: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        try input.withUnsafeBufferPointer { inp in
            inflater.pointee.next_in = UnsafeMutablePointer(mutating: inp.baseAddress)
            inflater.pointee.avail_in = uInt(inp.count)
            while true {
                let (rc, produced) = chunk.withUnsafeMutableBufferPointer { c -> (Int32, Int) in
                    inflater.pointee.next_out = c.baseAddress
                    inflater.pointee.avail_out = uInt(c.count)
                    let rc = CZlib.inflate(inflater, Z_SYNC_FLUSH)
                    return (rc, c.count - Int(inflater.pointee.avail_out))
                }
                out += chunk[0..<produced]
                switch rc {
                case Z_NEED_DICT:
                    let d = Self.dictionary.withUnsafeBufferPointer { d in inflateSetDictionary(inflater, d.baseAddress, uInt(d.count)) }
                    guard d == Z_OK else { throw SPDYProtocolError("header dictionary rejected (\(d))") }
                    continue
                case Z_OK, Z_STREAM_END, Z_BUF_ERROR:
                    break
                default:
                    throw SPDYProtocolError("header block inflate failed (\(rc))")
                }
                if inflater.pointee.avail_in == 0 && inflater.pointee.avail_out > 0 { break }
                if rc == Z_BUF_ERROR && produced == 0 { break }
            }
            inflater.pointee.next_in = nil
        }
        return out
    }

    private func deflate(_ input: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        try input.withUnsafeBufferPointer { inp in
            deflater.pointee.next_in = UnsafeMutablePointer(mutating: inp.baseAddress)
            deflater.pointee.avail_in = uInt(inp.count)
            while true {
                let (rc, produced) = chunk.withUnsafeMutableBufferPointer { c -> (Int32, Int) in
                    deflater.pointee.next_out = c.baseAddress
                    deflater.pointee.avail_out = uInt(c.count)
                    let rc = CZlib.deflate(deflater, Z_SYNC_FLUSH)
                    return (rc, c.count - Int(deflater.pointee.avail_out))
                }
                guard rc == Z_OK || rc == Z_BUF_ERROR else { throw SPDYProtocolError("header block deflate failed (\(rc))") }
                out += chunk[0..<produced]
                if deflater.pointee.avail_out > 0 { break }
            }
            deflater.pointee.next_in = nil
        }
        return out
    }

    /// The SPDY/3 header dictionary (draft 3, section 2.6.10.1): length-prefixed words, then text.
    static let dictionary: [UInt8] = {
        let words = ["options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
                     "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
                     "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
                     "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
                     "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
                     "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
                     "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
                     "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
                     "set-cookie", "keep-alive", "origin"]
        var bytes: [UInt8] = []
        for word in words {
            let n = UInt32(word.utf8.count)
            bytes += [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + Array(word.utf8)
        }
        bytes += Array(("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
            + "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
            + "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
            + "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
            + "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
            + "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.").utf8)
        return bytes
    }()
}
