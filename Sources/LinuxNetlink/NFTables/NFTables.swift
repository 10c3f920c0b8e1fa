import CSystemLibs
import Glibc
import LinuxPrimitives
import Synchronization

/// A refused nftables transaction: which operation the kernel refused, with its errno and,
/// when the kernel gave one, its explanation. Nothing of the transaction was applied.
public struct NFTablesError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The refused operation in nft's words (`add rule ip swiftlet-proxy services (...)`), or
    /// `commit` when the kernel refused the batch as a whole.
    public let operation: String
    /// Its index in the transaction (nil for the batch as a whole).
    public let operationIndex: Int?
    public let errno: Int32
    public let kernelMessage: String?
    /// How many other messages of the same batch were also refused.
    public let otherFailures: Int

    public init(operation: String, operationIndex: Int?, errno: Int32, kernelMessage: String?, otherFailures: Int) {
        self.operation = operation
        self.operationIndex = operationIndex
        self.errno = errno
        self.kernelMessage = kernelMessage
        self.otherFailures = otherFailures
    }

    public var description: String {
        var text = "nftables: \(operation): \(SystemError.errnoName(errno)) (\(String(cString: strerror(errno))))"
        if let kernelMessage, !kernelMessage.isEmpty { text += ": \(kernelMessage)" }
        if otherFailures > 0 { text += " (and \(otherFailures) more refused operations)" }
        return text + "; transaction not applied"
    }
}

/// What a commit did, for logs and metrics.
public struct NFTCommitResult: Sendable {
    public let messages: Int
    public let bytes: Int
    /// The ruleset generation after the commit.
    public let generation: UInt32
    /// Time spent building the batch, and waiting for the kernel to apply it.
    public let encodeSeconds: Double
    public let kernelSeconds: Double
}

/// The nftables client: commits transactions as single netlink batches and lists tables,
/// chains, sets, elements and rules. Safe to share; each call holds the socket for its exchange.
public final class NFTables: Sendable {
    let socket: MNLSocket
    private let sequence = Mutex<UInt32>(0)

    /// A client bound to the network namespace at `path` (nil: the caller's).
    public init(networkNamespace path: String? = nil) throws {
        socket = try MNLSocket.open(protocol: NETLINK_NETFILTER, label: "nftables", in: path)
        let seed = UInt32(truncatingIfNeeded: time(nil))
        sequence.withLock { $0 = seed }
        socket.exchange { $0.setReceiveBuffer(8 << 20) }
    }

    func nextSequences(_ count: Int) -> UInt32 {
        sequence.withLock { value in
            let first = value &+ 1
            value = value &+ UInt32(truncatingIfNeeded: count + 1)
            return first
        }
    }

    /// Applies every operation of `transaction` atomically, or none of them, and says which
    /// operation the kernel refused when it refuses.
    @discardableResult
    public func commit(_ transaction: NFTTransaction) throws -> NFTCommitResult {
        let started = ContinuousClock.now
        let estimated = transaction.count * 4 + 8
        let first = nextSequences(estimated)
        let batch = try NFTBatchEncoder.encode(transaction, firstSequence: first)
        let encoded = ContinuousClock.now
        defer { batch.deallocate() }
        let messages = batch.operationOfMessage.count + 1
        // The barrier after the batch: GETGEN answers once everything before it is processed.
        let barrier = nextSequences(messages + 1) &+ UInt32(messages)
        return try socket.exchange { io in
            try io.send(batch.buffer.bytes)
            try sendGetGeneration(io, sequence: barrier)
            var failures: [(seq: UInt32, errno: Int32, message: String?)] = []
            var generation: UInt32 = 0
            try receive(io, until: barrier) { message in
                if let info = message.errorInfo {
                    if info.errno != 0 { failures.append((message.sequence, info.errno, info.message)) }
                } else if message.sequence == barrier, message.payload.count >= 12 {
                    generation = Self.generationID(message)
                }
            }
            if let firstFailure = failures.min(by: { ($0.seq &- first) < ($1.seq &- first) }) {
                let index = batch.operationIndex(forSequence: firstFailure.seq)
                let operation = index.map { transaction.operations[$0].description } ?? "commit"
                throw NFTablesError(operation: operation, operationIndex: index, errno: firstFailure.errno,
                                    kernelMessage: firstFailure.message, otherFailures: failures.count - 1)
            }
            let done = ContinuousClock.now
            return NFTCommitResult(messages: messages + 1, bytes: batch.buffer.length, generation: generation,
                                   encodeSeconds: Self.seconds(encoded - started), kernelSeconds: Self.seconds(done - encoded))
        }
    }

    /// Sends NFT_MSG_GETGEN (ruleset generation): a cheap request whose answer marks the end of
    /// the replies to everything sent before it.
    private func sendGetGeneration(_ io: MNLSocket.Exchange, sequence: UInt32) throws {
        var buffer = [UInt8](repeating: 0, count: 64)
        let length = buffer.withUnsafeMutableBytes { raw -> Int in
            let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
            let nlh = nftnl_nlmsg_build_hdr(base, UInt16(NFT_MSG_GETGEN.rawValue), UInt16(AF_UNSPEC), UInt16(NLM_F_REQUEST), sequence)!
            return Int(nlh.pointee.nlmsg_len)
        }
        try buffer.withUnsafeBytes { try io.send(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func generationID(_ message: NetlinkMessage) -> UInt32 {
        // nfgenmsg (4 bytes), then NFTA_GEN_ID (u32, big endian).
        var offset = 4
        while offset + 4 <= message.payload.count {
            let len = Int(message.payload.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = message.payload.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3fff
            guard len >= 4 else { break }
            if type == 1, len >= 8 { return UInt32(bigEndian: message.payload.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)) }
            offset += (len + 3) & ~3
        }
        return 0
    }

    /// Reads datagrams until a message with sequence `last` (or NLMSG_DONE/error for it) arrives.
    func receive(_ io: MNLSocket.Exchange, until last: UInt32, _ handle: (NetlinkMessage) throws -> Void) throws {
        let size = 1 << 18
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try io.receive(into: buffer)
            var finished = false
            for message in NetlinkMessage.split(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) {
                guard message.portID == io.portID || message.portID == 0 else { continue }
                if message.sequence == last && (message.isDone || message.isError) { finished = true }
                if !message.isDone { try handle(message) }
                if message.sequence == last && message.flags & UInt16(NLM_F_MULTI) == 0 { finished = true }
            }
            if finished { return }
        }
    }
}
