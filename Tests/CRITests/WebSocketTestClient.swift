import Foundation
import Glibc
import LinuxPrimitives

/// A small blocking WebSocket client (RFC 6455, client frames masked) for the streaming tests,
/// connecting from inside the harness's network namespace where the streaming server listens.
final class WebSocketTestClient {
    let fd: Int32
    private(set) var status = 0
    private(set) var subprotocol = ""
    private(set) var responseBody = ""
    private var buffer: [UInt8] = []

    struct ClientError: Error, CustomStringConvertible { let message: String; var description: String { message } }

    /// Opens `url` (http://host:port/path), offering `protocols`; `status` is 101 on success.
    init(url: String, netns: String, protocols: [String], extraHeaders: [String] = []) throws {
        guard let parsed = URL(string: url), let host = parsed.host, let port = parsed.port else { throw ClientError(message: "bad url \(url)") }
        let path = parsed.path + (parsed.query.map { "?" + $0 } ?? "")
        fd = try NetworkNamespaceThread.run(in: netns) { try Self.connectTCP(host: host, port: UInt16(port)) }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if !protocols.isEmpty { request += "Sec-WebSocket-Protocol: \(protocols.joined(separator: ", "))\r\n" }
        for h in extraHeaders { request += h + "\r\n" }
        request += "\r\n"
        try writeAll(Array(request.utf8))
        // Response head, then (for errors) the body the server sent before closing.
        while !buffer.containsSequence([13, 10, 13, 10]) {
            let chunk = try readSome()
            if chunk.isEmpty { break }
            buffer += chunk
        }
        guard let end = buffer.firstRange(of: [13, 10, 13, 10]) else { throw ClientError(message: "no HTTP response") }
        let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
        buffer.removeSubrange(..<end.upperBound)
        let lines = head.components(separatedBy: "\r\n")
        status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 && parts[0].lowercased() == "sec-websocket-protocol" { subprotocol = parts[1] }
        }
        if status != 101 {
            while let chunk = try? readSome(), !chunk.isEmpty { buffer += chunk }
            responseBody = String(decoding: buffer, as: UTF8.self)
        }
    }

    deinit { close(fd) }

    static func connectTCP(host: String, port: UInt16) throws -> Int32 {
        let s = try syscall("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr(host)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc != 0 {
            let err = SystemError.current("connect(\(host):\(port))")
            close(s)
            throw err
        }
        return s
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw SystemError.current("write") }
            offset += n
        }
    }

    private func readSome() throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw SystemError.current("read") }
        return Array(chunk[0..<n])
    }

    /// Sends one masked frame.
    func sendFrame(opcode: UInt8, _ payload: [UInt8]) throws {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 { frame.append(0x80 | UInt8(payload.count)) }
        else if payload.count < 65536 { frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)] }
        else { frame.append(0x80 | 127); for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xff)) } }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        for (i, b) in payload.enumerated() { frame.append(b ^ mask[i % 4]) }
        try writeAll(frame)
    }

    func send(channel: UInt8, _ bytes: [UInt8]) throws { try sendFrame(opcode: 2, [channel] + bytes) }
    func send(channel: UInt8, _ text: String) throws { try send(channel: channel, Array(text.utf8)) }

    /// The next frame (opcode, payload); nil when the connection ended.
    func receiveFrame() throws -> (opcode: UInt8, payload: [UInt8])? {
        func need(_ n: Int) throws -> Bool {
            while buffer.count < n {
                let chunk = try readSome()
                if chunk.isEmpty { return false }
                buffer += chunk
            }
            return true
        }
        guard try need(2) else { return nil }
        let opcode = buffer[0] & 0x0f
        var length = Int(buffer[1] & 0x7f)
        var headerLength = 2
        if length == 126 {
            guard try need(4) else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            headerLength = 4
        } else if length == 127 {
            guard try need(10) else { return nil }
            length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[$1]) }
            headerLength = 10
        }
        guard try need(headerLength + length) else { return nil }
        let payload = Array(buffer[headerLength..<(headerLength + length)])
        buffer.removeSubrange(..<(headerLength + length))
        return (opcode, payload)
    }

    /// Everything received per channel until the server closes (answers its close frame).
    func collect() throws -> [UInt8: [UInt8]] {
        var out: [UInt8: [UInt8]] = [:]
        while let frame = try receiveFrame() {
            if frame.opcode == 8 {
                try? sendFrame(opcode: 8, Array(frame.payload.prefix(2)))
                break
            }
            guard frame.opcode == 2, let channel = frame.payload.first else { continue }
            out[channel, default: []] += frame.payload.dropFirst()
        }
        return out
    }

    /// Reads until channel `channel` has produced `text` (or the connection ends).
    func read(channel: UInt8, until text: String) throws -> String {
        var seen: [UInt8] = []
        while !String(decoding: seen, as: UTF8.self).contains(text), let frame = try receiveFrame() {
            if frame.opcode == 8 { break }
            if frame.opcode == 2, frame.payload.first == channel { seen += frame.payload.dropFirst() }
        }
        return String(decoding: seen, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    func containsSequence(_ s: [UInt8]) -> Bool { firstRange(of: s) != nil }
}

extension Dictionary where Key == UInt8, Value == [UInt8] {
    func text(_ channel: UInt8) -> String { String(decoding: self[channel] ?? [], as: UTF8.self) }
}
