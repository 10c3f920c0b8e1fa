import CSystemLibs
import CLinux
import Glibc
import LinuxPrimitives

/// A failed rtnetlink request. libnl reports its own error numbers (NLE_*), which fold several
/// errno values into one; we keep libnl's number, its message, and what we were doing to
/// which object, so an error reads `RTM_NEWLINK(veth, veth1a2b3c4d): Object exists`.
public struct NetlinkError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The request, e.g. `RTM_NEWLINK(veth)` or `RTM_NEWADDR`.
    public let operation: String
    /// The object the request was about (interface name, address, route), when known.
    public let object: String?
    /// libnl's error number (positive NLE_* value).
    public let code: Int32

    public init(_ operation: String, object: String? = nil, code: Int32) {
        self.operation = operation
        self.object = object
        self.code = code < 0 ? -code : code
    }

    public var description: String {
        let message = String(cString: nl_geterror(code))
        if let object { return "\(operation), \(object): \(message)" }
        return "\(operation): \(message)"
    }

    /// The object (link, address, route) does not exist: what idempotent deletes ignore.
    public var isNotFound: Bool {
        code == NLE_OBJ_NOTFOUND || code == NLE_NODEV || code == NLE_NOADDR
    }

    /// The object is already there (EEXIST).
    public var alreadyExists: Bool { code == NLE_EXIST }
}

/// Checks a libnl return value (0 or a negative NLE_* number).
@inline(__always)
func nlCheck(_ rc: Int32, _ operation: @autoclosure () -> String, object: @autoclosure () -> String? = nil) throws {
    if rc < 0 { throw NetlinkError(operation(), object: object(), code: rc) }
}

/// Random bytes from the kernel's CSPRNG: veth names and MAC addresses must not collide
/// between plugin processes started in the same microsecond.
public enum RandomBytes {
    public static func get(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = bytes.withUnsafeMutableBytes { raw in
                clinux_random_bytes(raw.baseAddress! + filled, count - filled)
            }
            if n > 0 { filled += n } else if n < 0 && Glibc.errno != EINTR { break }
        }
        return bytes
    }

    /// `count` random lower-case hex characters.
    public static func hex(_ count: Int) -> String {
        let digits = Array("0123456789abcdef")
        return String(get((count + 1) / 2).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] }.prefix(count))
    }
}
