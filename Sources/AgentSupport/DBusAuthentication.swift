import Glibc
import LinuxPrimitives

/// D-Bus server addresses: `unix:path=/run/dbus/system_bus_socket`, `unix:abstract=name`, with
/// optional `,guid=...` and `;`-separated alternatives; values are %-escaped.
enum DBusAddress {
    static func parse(_ text: String) throws -> UnixSocketAddress {
        for entry in text.split(separator: ";") {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0] == "unix" else { continue }
            for pair in parts[1].split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                let value = try unescape(String(kv[1]), in: text)
                switch kv[0] {
                case "path": return UnixSocketAddress(path: value)
                case "abstract": return UnixSocketAddress(abstract: Array(value.utf8))
                default: continue
                }
            }
        }
        throw DBusError.protocolError("no unix:path= or unix:abstract= in bus address \"\(text)\"")
    }

    static func unescape(_ value: String, in address: String) throws -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(value.utf8)[...]
        while let b = utf8.popFirst() {
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard utf8.count >= 2, let v = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else {
                throw DBusError.protocolError("bad %-escape in bus address \"\(address)\"")
            }
            bytes.append(v)
            utf8 = utf8.dropFirst(2)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The SASL exchange before the first message: a NUL byte, `AUTH EXTERNAL <hex of our uid>`
/// (the bus checks it against the socket's SO_PEERCRED), `NEGOTIATE_UNIX_FD` (logind's Inhibit
/// returns a descriptor), `BEGIN`.
enum DBusAuthentication {
    /// Returns the server's GUID. Bytes read past the last line (none, with a conforming bus)
    /// are left in `leftover` for the message reader.
    static func authenticate(_ socket: UnixStreamSocket, leftover: inout [UInt8]) throws -> String {
        try socket.setReceiveTimeout(milliseconds: 10_000)
        defer { try? socket.setReceiveTimeout(milliseconds: 0) }
        let uid = String(geteuid())
        let hexUID = uid.utf8.map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xf)]], as: UTF8.self)
        }.joined()
        try socket.send([0] + Array("AUTH EXTERNAL \(hexUID)\r\n".utf8))
        let ok = try readLine(socket, &leftover)
        guard ok.hasPrefix("OK ") else { throw DBusError.authenticationFailed("bus answered \"\(ok)\" to AUTH EXTERNAL") }
        let guid = String(ok.dropFirst(3))
        try socket.send(Array("NEGOTIATE_UNIX_FD\r\n".utf8))
        let agree = try readLine(socket, &leftover)
        guard agree == "AGREE_UNIX_FD" else {
            throw DBusError.authenticationFailed("bus refused descriptor passing: \"\(agree)\"")
        }
        try socket.send(Array("BEGIN\r\n".utf8))
        return guid
    }

    /// One `\r\n`-terminated line of the SASL exchange (at most 16 KiB).
    static func readLine(_ socket: UnixStreamSocket, _ buffer: inout [UInt8]) throws -> String {
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<end])
                buffer.removeSubrange(...end)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count < 16384 else { throw DBusError.authenticationFailed("authentication line too long") }
            let (bytes, fds) = try socket.receive(capacity: 4096)
            for fd in fds { FileDescriptor(rawValue: fd).close() }
            guard !bytes.isEmpty else { throw DBusError.authenticationFailed("bus closed the connection during authentication") }
            buffer.append(contentsOf: bytes)
        }
    }
}
