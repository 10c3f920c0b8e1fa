import Foundation
import KubeAPI
import LinuxPrimitives
import Logging

/// Static pods from `--pod-manifest-path`: every `.yaml`, `.yml` and `.json` file holds one Pod.
/// The directory is watched with inotify (and rescanned every 20 s, as kubelet does), and each
/// change produces the full set of pods. A file that becomes malformed is reported with its
/// path and field and its last good pod is kept, so a typo never kills a running pod.
final class StaticPodSource: Sendable {
    let directory: String
    let nodeName: String
    let suffixNames: Bool
    let logger: Logger
    private let lastGood = LockedDictionary<String, Pod>()
    private let reported = LockedDictionary<String, String>()

    init(directory: String, nodeName: String, suffixNames: Bool, logger: Logger) {
        self.directory = directory
        self.nodeName = nodeName
        self.suffixNames = suffixNames
        self.logger = logger
    }

    /// Reads the directory once.
    func scan() -> [Pod] {
        let names = ((try? FileSystem.listDirectory(directory)) ?? []).filter { name in
            !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml") || name.hasSuffix(".json"))
        }.sorted()
        var pods: [Pod] = []
        var seenUIDs = Set<String>()
        for name in names {
            let path = directory + "/" + name
            do {
                let pod = try load(path)
                lastGood.set(path, pod)
                if reported.get(path) != nil { reported.remove(path) }
                guard let uid = pod.metadata.uid, seenUIDs.insert(uid).inserted else { continue }
                pods.append(pod)
            } catch is EmptyManifest {
                if let kept = lastGood.get(path), let uid = kept.metadata.uid, seenUIDs.insert(uid).inserted { pods.append(kept) }
            } catch {
                let message = "\(error)"
                if reported.get(path) != message {
                    reported.set(path, message)
                    logger.error("static pod manifest rejected: \(message)")
                }
                if let kept = lastGood.get(path), let uid = kept.metadata.uid, seenUIDs.insert(uid).inserted { pods.append(kept) }
            }
        }
        for path in lastGood.keys() where !names.contains(String(path.split(separator: "/").last ?? "")) {
            lastGood.remove(path)
            reported.remove(path)
        }
        return pods
    }

    /// The manifest errors currently standing, by file.
    func errors() -> [String: String] { reported.snapshot() }

    func load(_ path: String) throws -> Pod {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ManifestError(path: path, field: "", message: "cannot read: \(error.localizedDescription)")
        }
        let text = String(decoding: data, as: UTF8.self)
        // A file being written (created, not yet filled) is not an error; its close brings a rescan.
        if text.allSatisfy(\.isWhitespace) { throw EmptyManifest() }
        let docs = try Manifest.documents(text, path: path)
        guard docs.count == 1 else { throw ManifestError(path: path, field: "", message: "expected one Pod, found \(docs.count) documents") }
        if let kind = docs[0]["kind"]?.stringValue, kind != "Pod" {
            throw ManifestError(path: path, field: "kind", message: "expected Pod, got \(kind)")
        }
        var pod = try Manifest.decode(Pod.self, from: docs[0], path: path)
        try PodDefaults.validate(pod, path: path)
        PodDefaults.apply(&pod)
        if suffixNames, let name = pod.metadata.name { pod.metadata.name = name + "-" + nodeName }
        pod.metadata.uid = Self.hash(document: docs[0], nodeName: nodeName, path: path)
        var annotations = pod.metadata.annotations ?? [:]
        annotations["kubernetes.io/config.source"] = "file"
        annotations["kubernetes.io/config.hash"] = pod.metadata.uid
        annotations["kubernetes.io/config.seen"] = KubeTime.now()
        pod.metadata.annotations = annotations
        pod.spec.nodeName = nodeName
        return pod
    }

    /// The static pod's hash, which is also its UID and the `kubernetes.io/config.hash` (and its
    /// mirror pod's `kubernetes.io/config.mirror`): over the manifest's content in a canonical
    /// form (sorted keys, no formatting or comments), the node and the file, as kubelet hashes
    /// the decoded object with `host:` and `file:`. Reformatting a manifest changes nothing;
    /// changing a value replaces the pod.
    static func hash(document: JSONValue, nodeName: String, path: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let canonical = (try? encoder.encode(document)).map { Array($0) } ?? []
        return StableHash.hex(canonical + Array("host:\(nodeName)file:\(path)".utf8))
    }

    /// Blocks a dedicated thread: calls `onChange` with the full set after every change.
    func watch(onChange: @escaping @Sendable ([Pod]) -> Void, stop: @escaping @Sendable () -> Bool) {
        let thread = Thread { [self] in
            var inotify = try? Inotify()
            if inotify != nil {
                do { try inotify?.watch(directory) } catch {
                    logger.warning("cannot watch \(directory) (\(error)); rescanning every second instead")
                    inotify = nil
                }
            }
            var lastScan = Date()
            while !stop() {
                let changed: Bool
                if let inotify {
                    changed = inotify.waitForChanges(timeoutMilliseconds: 1000) > 0
                } else {
                    Thread.sleep(forTimeInterval: 1)
                    changed = true
                }
                if changed || Date().timeIntervalSince(lastScan) > 20 {
                    lastScan = Date()
                    onChange(scan())
                }
            }
            inotify?.close()
        }
        thread.start()
    }
}

/// A small thread-safe dictionary for state shared with watcher threads.
final class LockedDictionary<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Key: Value] = [:]

    func get(_ key: Key) -> Value? { lock.withLock { storage[key] } }
    func set(_ key: Key, _ value: Value) { lock.withLock { storage[key] = value } }
    func remove(_ key: Key) { lock.withLock { _ = storage.removeValue(forKey: key) } }
    func keys() -> [Key] { lock.withLock { Array(storage.keys) } }
    func snapshot() -> [Key: Value] { lock.withLock { storage } }
}

/// A 128-bit non-cryptographic digest (two FNV-1a lanes) for stable static-pod UIDs.
enum StableHash {
    static func hex(_ bytes: [UInt8]) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x8422_2325_cbf2_9ce4
        for byte in bytes {
            a = (a ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            b = (b ^ UInt64(byte ^ 0x5A)) &* 0x0000_0100_0000_01B3
        }
        let ha = String(a, radix: 16), hb = String(b, radix: 16)
        return String(repeating: "0", count: 16 - ha.count) + ha + String(repeating: "0", count: 16 - hb.count) + hb
    }
}

struct EmptyManifest: Error {}
