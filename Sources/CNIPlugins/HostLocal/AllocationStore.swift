import CNI
import Glibc
import LinuxNetlink
import LinuxPrimitives

/// host-local's on-disk state, in the reference plugin's layout so either plugin can take
/// over the other's directory: `<dataDir>/<network>/<ip>` holds `<containerID>\r\n<ifname>`,
/// `last_reserved_ip.<set>` remembers where the round-robin stopped, and every operation
/// holds an exclusive flock on `<dataDir>/<network>/lock`. State survives restarts because
/// it is nothing but these files.
public final class AllocationStore {
    public let directory: String
    private let lock: FileDescriptor

    static let lockName = "lock"
    static let lastReservedPrefix = "last_reserved_ip."
    static let lineBreak = "\r\n"

    /// Opens (creating) the network's directory and takes the lock until `close()`.
    public init(dataDir: String, network: String) throws {
        directory = dataDir + "/" + network
        do {
            try FileSystem.createDirectory(directory, mode: 0o755)
            lock = try FileDescriptor.open(directory + "/" + AllocationStore.lockName, O_RDWR | O_CREAT, mode: 0o600)
        } catch {
            throw CNIError.io("cannot open the IPAM store \(directory)", details: "\(error)")
        }
        do {
            try syscall("flock(LOCK_EX)", path: directory + "/lock") { flock(lock.rawValue, LOCK_EX) }
        } catch {
            lock.close()
            throw CNIError.io("cannot lock the IPAM store \(directory)", details: "\(error)")
        }
    }

    public func close() {
        lock.close()  // closing drops the flock
    }

    static func owner(_ containerID: String, _ ifname: String) -> String {
        containerID.trimmingSpaces + lineBreak + ifname
    }

    /// Claims `address` for the attachment; false when it is already taken.
    public func reserve(_ address: IPAddress, containerID: String, ifname: String, rangeSet: Int) throws -> Bool {
        let path = directory + "/" + address.description
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
        } catch let error as SystemError where error.errno == EEXIST {
            return false
        }
        do {
            try fd.writeAll(AllocationStore.owner(containerID, ifname))
            fd.close()
        } catch {
            fd.close()
            try? FileSystem.removeFile(path)
            throw CNIError.io("cannot record the allocation of \(address)", details: "\(error)")
        }
        try FileSystem.writeAtomically(directory + "/" + AllocationStore.lastReservedPrefix + String(rangeSet), address.description)
        return true
    }

    public func lastReserved(rangeSet: Int) -> IPAddress? {
        guard let text = try? FileSystem.readSmall(directory + "/" + AllocationStore.lastReservedPrefix + String(rangeSet)) else {
            return nil
        }
        return IPAddress(text.trimmingSpaces)
    }

    public func isReserved(_ address: IPAddress) -> Bool {
        FileSystem.exists(directory + "/" + address.description)
    }

    /// Every allocation: address -> (containerID, ifname); ifname is nil in files written by
    /// old versions of the reference plugin, which recorded only the container ID.
    public func allocations() throws -> [(address: IPAddress, containerID: String, ifname: String?)] {
        var out: [(IPAddress, String, String?)] = []
        for name in try FileSystem.listDirectory(directory) {
            guard let address = IPAddress(name) else { continue }  // lock, last_reserved_ip.*, temp files
            guard let content = try? FileSystem.readSmall(directory + "/" + name) else { continue }
            // "\r\n" is one Character in Swift, so split on newline Characters, not on "\n".
            let lines = content.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
            let containerID = lines.first?.trimmingSpaces ?? ""
            let ifname = lines.count > 1 ? lines[1].trimmingSpaces : nil
            out.append((address, containerID, ifname))
        }
        return out
    }

    /// The addresses held by the attachment.
    public func addresses(containerID: String, ifname: String) throws -> [IPAddress] {
        try allocations().filter { $0.containerID == containerID.trimmingSpaces && ($0.ifname == nil || $0.ifname == ifname) }.map(\.address)
    }

    /// Releases everything the attachment holds; returns what was released. Idempotent.
    @discardableResult
    public func release(containerID: String, ifname: String) throws -> [IPAddress] {
        let held = try addresses(containerID: containerID, ifname: ifname)
        for address in held { try release(address) }
        return held
    }

    public func release(_ address: IPAddress) throws {
        do {
            try FileSystem.removeFile(directory + "/" + address.description)
        } catch {
            throw CNIError.io("cannot release \(address)", details: "\(error)")
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
