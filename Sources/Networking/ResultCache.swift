import CNI
import Glibc
import LinuxPrimitives

/// The on-disk record of an attachment, in libcni's layout and format so that tools reading
/// `/var/lib/cni/results` (and a runtime that takes over) understand it:
/// `<cacheDir>/results/<network>-<containerID>-<ifname>` holding
/// `{"kind":"cniCacheV1","containerId":…,"config":<base64 list>,"ifName":…,"networkName":…,
///   "netns":…,"cniArgs":[[k,v]…],"capabilityArgs":{…},"result":{…}}`.
/// We write the record *before* ADD (without `result`) and again after it: an agent killed in
/// between still knows the attachment exists and can DEL it at start-up.
public struct CachedAttachment: Sendable, Equatable {
    public var containerID: String
    public var ifname: String
    public var networkName: String
    public var netns: String
    /// The configuration list's bytes at ADD time, used for DEL even if the file changed since.
    public var config: [UInt8]
    public var cniArgs: [(String, String)]
    public var capabilityArgs: JSONObject
    public var result: CNIResult?

    public static func == (lhs: CachedAttachment, rhs: CachedAttachment) -> Bool {
        lhs.containerID == rhs.containerID && lhs.ifname == rhs.ifname && lhs.networkName == rhs.networkName
            && lhs.netns == rhs.netns && lhs.config == rhs.config && lhs.capabilityArgs == rhs.capabilityArgs
            && lhs.result == rhs.result && lhs.cniArgs.map { [$0.0, $0.1] } == rhs.cniArgs.map { [$0.0, $0.1] }
    }
}

public struct ResultCache: Sendable {
    public let directory: String
    static let kind = "cniCacheV1"

    /// `cacheDir` as libcni's (default /var/lib/cni); records go in its `results` folder.
    public init(cacheDir: String) { directory = cacheDir + "/results" }

    public func path(network: String, containerID: String, ifname: String) -> String {
        "\(directory)/\(network)-\(containerID)-\(ifname)"
    }

    public func write(_ entry: CachedAttachment) throws(PodNetworkError) {
        var object = JSONObject([
            ("kind", .string(ResultCache.kind)),
            ("containerId", .string(entry.containerID)),
            ("config", .string(Base64.encode(entry.config))),
            ("ifName", .string(entry.ifname)),
            ("networkName", .string(entry.networkName)),
        ])
        if !entry.netns.isEmpty { object["netns"] = .string(entry.netns) }
        if !entry.cniArgs.isEmpty { object["cniArgs"] = .array(entry.cniArgs.map { .array([.string($0.0), .string($0.1)]) }) }
        if !entry.capabilityArgs.isEmpty { object["capabilityArgs"] = .object(entry.capabilityArgs) }
        if let result = entry.result { object["result"] = result.json() }
        let path = path(network: entry.networkName, containerID: entry.containerID, ifname: entry.ifname)
        do {
            try FileSystem.createDirectory(directory, mode: 0o700)
            try FileSystem.writeAtomically(path, JSON.object(object).serialized(), mode: 0o600)
        } catch {
            throw .io(path: path, reason: "cannot write the CNI result cache: \(error)")
        }
    }

    /// The record, nil when there is none; a record we cannot read is an error naming it.
    public func read(network: String, containerID: String, ifname: String) throws(PodNetworkError) -> CachedAttachment? {
        let path = path(network: network, containerID: containerID, ifname: ifname)
        guard FileSystem.exists(path) else { return nil }
        return try read(path: path)
    }

    public func read(path: String) throws(PodNetworkError) -> CachedAttachment {
        let document: JSON
        do {
            document = try JSON.parse(try FileSystem.readBytes(path))
        } catch {
            throw .io(path: path, reason: "unreadable CNI cache record: \(error)")
        }
        guard document["kind"]?.stringValue == ResultCache.kind,
              let containerID = document["containerId"]?.stringValue,
              let ifname = document["ifName"]?.stringValue,
              let network = document["networkName"]?.stringValue else {
            throw .io(path: path, reason: "not a \(ResultCache.kind) record")
        }
        var args: [(String, String)] = []
        for pair in document["cniArgs"]?.arrayValue ?? [] {
            if let items = pair.arrayValue, items.count == 2, let key = items[0].stringValue, let value = items[1].stringValue {
                args.append((key, value))
            }
        }
        var result: CNIResult? = nil
        if let raw = document["result"], !raw.isNull, raw.objectValue?.isEmpty == false {
            do { result = try CNIResult(json: raw) } catch {
                throw .io(path: path, reason: "cached result: \(error.msg)")
            }
        }
        return CachedAttachment(containerID: containerID, ifname: ifname, networkName: network,
                                netns: document["netns"]?.stringValue ?? "",
                                config: Base64.decode(document["config"]?.stringValue ?? "") ?? [],
                                cniArgs: args, capabilityArgs: document["capabilityArgs"]?.objectValue ?? JSONObject(),
                                result: result)
    }

    public func remove(network: String, containerID: String, ifname: String) throws(PodNetworkError) {
        let path = path(network: network, containerID: containerID, ifname: ifname)
        do { try FileSystem.removeFile(path) } catch {
            throw .io(path: path, reason: "cannot remove the CNI cache record: \(error)")
        }
    }

    /// Every readable record, optionally of one network; unreadable ones are skipped (as
    /// libcni does) so one damaged file does not block start-up.
    public func all(network: String? = nil) -> [CachedAttachment] {
        let names = ((try? FileSystem.listDirectory(directory)) ?? []).sorted()
        return names.compactMap { name in
            if name.contains(".tmp.") { return nil }
            guard let entry = try? read(path: directory + "/" + name) else { return nil }
            if let network, entry.networkName != network { return nil }
            return entry
        }
    }
}

/// RFC 4648 base64, as Go's encoding/json writes []byte.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(chunk >> 18 & 63)], alphabet[Int(chunk >> 12 & 63)], alphabet[Int(chunk >> 6 & 63)], alphabet[Int(chunk & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let chunk = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out += [alphabet[Int(chunk >> 18 & 63)], alphabet[Int(chunk >> 12 & 63)]]
            out += rest == 2 ? [alphabet[Int(chunk >> 6 & 63)], UInt8(ascii: "=")] : [UInt8(ascii: "="), UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var lookup = [UInt8](repeating: 255, count: 256)
        for (value, symbol) in alphabet.enumerated() { lookup[Int(symbol)] = UInt8(value) }
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "=") { break }
            let value = lookup[Int(byte)]
            guard value != 255 else { return nil }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(buffer >> UInt32(bits) & 0xff))
            }
        }
        return out
    }
}
