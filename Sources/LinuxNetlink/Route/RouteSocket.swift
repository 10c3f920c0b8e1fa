import CSystemLibs
import Glibc
import LinuxPrimitives

/// One NETLINK_ROUTE socket (libnl `nl_sock`), bound to the network namespace it was created
/// in for its whole life: a socket opened inside a pod's namespace keeps configuring that
/// namespace after the thread has gone back to its own. Not thread-safe (libnl sockets are
/// not), so it is a plain class: create one where it is used and let it go out of scope.
public final class RouteSocket {
    let handle: OpaquePointer

    /// Opens a socket in the calling thread's current network namespace.
    public init() throws {
        guard let sock = nl_socket_alloc() else {
            throw NetlinkError("nl_socket_alloc", code: -NLE_NOMEM)
        }
        let rc = nl_connect(sock, NETLINK_ROUTE)
        if rc < 0 {
            nl_socket_free(sock)
            throw NetlinkError("nl_connect(NETLINK_ROUTE)", code: rc)
        }
        handle = sock
    }

    /// Opens a socket inside the network namespace at `path` (a `/proc/<pid>/ns/net` file or a
    /// bind mount of one). The thread enters the namespace only for the `socket()` call.
    public static func inNamespace(_ path: String) throws -> RouteSocket {
        try NetworkNamespace.run(path) { try RouteSocket() }
    }

    deinit {
        nl_socket_free(handle)
    }

    // MARK: raw requests, for what libnl's object API does not express

    /// Sends one request built by `build` and waits for the kernel's acknowledgement.
    func request(type: Int32, flags: Int32, operation: String, object: String?,
                 _ build: (OpaquePointer) throws -> Void) throws {
        guard let message = nlmsg_alloc_simple(type, flags | NLM_F_REQUEST | NLM_F_ACK) else {
            throw NetlinkError(operation, object: object, code: -NLE_NOMEM)
        }
        defer { nlmsg_free(message) }
        try build(message)
        try nlCheck(nl_send_auto(handle, message), operation, object: object)
        try nlCheck(nl_wait_for_ack(handle), operation, object: object)
    }
}

// MARK: nl_addr conversion

/// Builds a libnl address object; the caller owns one reference (nl_addr_put).
func makeNLAddress(_ address: IPAddress, prefixLength: Int? = nil) throws -> OpaquePointer {
    let family = address.isV4 ? AF_INET : AF_INET6
    let bytes = address.bytes
    guard let nl = bytes.withUnsafeBytes({ nl_addr_build(family, $0.baseAddress, $0.count) }) else {
        throw NetlinkError("nl_addr_build", object: address.description, code: -NLE_NOMEM)
    }
    nl_addr_set_prefixlen(nl, Int32(prefixLength ?? address.bitWidth))
    return nl
}

func makeNLAddress(mac: MACAddress) throws -> OpaquePointer {
    guard let nl = mac.bytes.withUnsafeBytes({ nl_addr_build(AF_LLC, $0.baseAddress, $0.count) }) else {
        throw NetlinkError("nl_addr_build", object: mac.description, code: -NLE_NOMEM)
    }
    return nl
}

/// Reads a libnl address object (not consumed) back into our types.
func readNLAddress(_ nl: OpaquePointer?) -> (address: IPAddress, prefixLength: Int)? {
    guard let nl, let raw = nl_addr_get_binary_addr(nl) else { return nil }
    let length = Int(nl_addr_get_len(nl))
    guard length == 4 || length == 16 else { return nil }
    let bytes = Array(UnsafeRawBufferPointer(start: raw, count: length))
    guard let address = IPAddress(bytes: bytes) else { return nil }
    return (address, Int(nl_addr_get_prefixlen(nl)))
}

func readNLMAC(_ nl: OpaquePointer?) -> MACAddress? {
    guard let nl, let raw = nl_addr_get_binary_addr(nl), nl_addr_get_len(nl) == 6 else { return nil }
    return MACAddress(bytes: Array(UnsafeRawBufferPointer(start: raw, count: 6)))
}

/// Walks a libnl cache, handing each object to `body`.
func forEachObject(in cache: OpaquePointer, _ body: (OpaquePointer) -> Void) {
    var object = nl_cache_get_first(cache)
    while let current = object {
        body(current)
        object = nl_cache_get_next(current)
    }
}
