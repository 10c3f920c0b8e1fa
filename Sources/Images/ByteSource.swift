import LinuxPrimitives

/// A pull-based byte stream: the layer pipeline is file → (hash) → (gunzip) → (hash) → tar,
/// each stage a `ByteSource` reading from the one below, so a layer is unpacked in one pass
/// with bounded memory. Not thread-safe: one pipeline belongs to one thread at a time.
protocol ByteSource: AnyObject {
    /// Reads at most `buffer.count` bytes; 0 means end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A byte range of a file, read with `pread` so several sources can share one descriptor
/// (members of an outer docker-archive tar are ranges of the same file).
final class FileRangeSource: ByteSource {
    let fd: FileDescriptor
    private var offset: Int64
    private let end: Int64
    let name: String

    /// `length` nil means up to end of file.
    init(fd: FileDescriptor, offset: Int64 = 0, length: Int64? = nil, name: String) {
        self.fd = fd
        self.offset = offset
        self.end = length.map { offset + $0 } ?? Int64.max
        self.name = name
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let want = Int(min(Int64(buffer.count), end - offset))
        if want <= 0 { return 0 }
        let n = try ImageError.wrapping("reading \(name)") {
            try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: offset)
        }
        if n == 0 && end != Int64.max {
            throw ImageError.corruptData(context: name, reason: "file ends \(end - offset) bytes early")
        }
        offset += Int64(n)
        return n
    }
}

/// Bytes already in memory (small archives members, tests).
final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position)
        if n <= 0 { return 0 }
        bytes.withUnsafeBytes { raw in
            buffer.baseAddress!.copyMemory(from: raw.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }
}

/// Hashes everything read through it and counts the bytes: the blob digest of the compressed
/// stream and the diff id of the uncompressed tar are computed while unpacking, not in a
/// separate pass.
final class HashingSource: ByteSource {
    private let upstream: ByteSource
    private var hasher = DigestHasher()
    private(set) var count: Int64 = 0

    init(_ upstream: ByteSource) { self.upstream = upstream }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        if n > 0 {
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            count += Int64(n)
        }
        return n
    }

    /// Reads whatever is left (tar padding after the end blocks counts for the digest too).
    func drain() throws {
        var scratch = [UInt8](repeating: 0, count: 65536)
        while try scratch.withUnsafeMutableBytes({ try read(into: $0) }) > 0 {}
    }

    var digest: Digest { hasher.finalize() }
}

/// A read buffer in front of a source, with exact-length reads (tar headers), copying a
/// number of bytes to a file descriptor (file bodies) and skipping.
final class BufferedInput {
    private let source: ByteSource
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// Bytes consumed from the stream so far (offsets in an outer tar index).
    private(set) var position: Int64 = 0
    /// Set when `source` is a `FileRangeSource` over a whole file: lets `skip` jump by
    /// seeking instead of reading.
    private let seekable: FileDescriptor?
    private var sourceOffset: Int64 = 0
    private var eof = false

    init(_ source: ByteSource, capacity: Int = 1 << 20, seekable: FileDescriptor? = nil) {
        self.source = source
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        self.seekable = seekable
    }

    deinit { buffer.deallocate() }

    var available: Int { end - start }

    /// Refills; returns false at end of stream.
    private func fill() throws -> Bool {
        if eof { return false }
        if start == end { start = 0; end = 0 }
        if start > 0 && end == buffer.count {
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start)
            end -= start
            start = 0
        }
        let n: Int
        if let fd = seekable {
            n = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]), at: sourceOffset)
            sourceOffset += Int64(n)
        } else {
            n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
        }
        if n == 0 { eof = true; return false }
        end += n
        return true
    }

    /// Exactly `count` bytes (count ≤ capacity), or nil at a clean end of stream; a stream
    /// ending inside the record is an error.
    func readExactly(_ count: Int, context: @autoclosure () -> String) throws -> UnsafeRawBufferPointer? {
        while available < count {
            if try !fill() {
                if available == 0 { return nil }
                throw ImageError.corruptData(context: context(), reason: "unexpected end of data (truncated)")
            }
        }
        let out = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)])
        start += count
        position += Int64(count)
        return out
    }

    /// Reads `count` bytes into an array (PAX and GNU long-name records).
    func readBytes(_ count: Int, context: @autoclosure () -> String) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        try forEachChunk(count, context: context()) { out.append(contentsOf: $0) }
        return out
    }

    /// Hands `count` bytes to `body` in buffer-sized chunks.
    func forEachChunk(_ count: Int64, context: @autoclosure () -> String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var left = count
        while left > 0 {
            if available == 0, try !fill() {
                throw ImageError.corruptData(context: context(), reason: "unexpected end of data (\(left) bytes missing, truncated)")
            }
            let n = Int(min(Int64(available), left))
            try body(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + n)]))
            start += n
            position += Int64(n)
            left -= Int64(n)
        }
    }

    func forEachChunk(_ count: Int, context: @autoclosure () -> String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try forEachChunk(Int64(count), context: context(), body)
    }

    /// Skips `count` bytes: by seeking when the input is a plain file, else by reading.
    func skip(_ count: Int64, context: @autoclosure () -> String) throws {
        if seekable != nil && count > Int64(available) {
            let jump = count - Int64(available)
            position += count
            start = 0
            end = 0
            sourceOffset += jump
            return
        }
        try forEachChunk(count, context: context()) { _ in }
    }
}
