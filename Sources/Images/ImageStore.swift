import Foundation
import Glibc
import LinuxPrimitives
import Synchronization

/// The content-addressed image store under `<rootDir>/images`:
///
/// ```
/// images/lock                      flock taken by every writer (agent, CLI, CRI: many processes)
/// images/index.json                all image records, replaced atomically (temp + rename)
/// images/blobs/sha256/<hex>        manifests and configs
/// images/layers/<diff id hex>/fs   one unpacked layer, shared by every image that has it
/// images/layers/<hex>/layer.json   written before the layer directory is renamed into place
/// images/pins/<holder>.json        layers kept alive for a container (see `pin`)
/// images/tmp/<pid>.<n>/            work in progress; never visible as an image
/// ```
///
/// Layers are keyed by diff id, not chain id: each directory holds one layer's own diff
/// (overlayfs stacks them), so its content depends only on that tar and two images sharing
/// a layer at different depths still share the directory.
///
/// Concurrency: readers never lock (every file they read is replaced atomically, and the
/// parsed index is cached until `index.json` changes); writers serialise on `images/lock`
/// with `flock`, which holds between processes and between threads of one process (each
/// operation opens its own descriptor). Unpacking happens outside the lock into `tmp/`, and
/// the commit re-checks under the lock that every layer is still there, so a concurrent
/// `rm`/GC can never leave a record pointing at a missing layer.
public final class ImageStore: Sendable {
    /// `<rootDir>/images`.
    public let directory: String
    let layersDirectory: String
    let blobsDirectory: String
    let pinsDirectory: String
    let tmpDirectory: String
    private let cache = Mutex(Cache())
    /// In-flight pulls by normalised reference, and layer downloads by diff id.
    let pulls = SingleFlight<ImageRecord>()
    let layerPulls = SingleFlight<Bool>()

    struct Cache {
        var identity: FileIdentity?
        var index = StoreIndex()
        var configs: [Digest: ImageConfig] = [:]
    }

    struct FileIdentity: Equatable {
        var device: UInt64, inode: UInt64, size: Int64, seconds: Int, nanoseconds: Int
    }

    /// Opens (creating if needed) the store of the agent whose `--root-dir` is `rootDir`.
    public init(rootDir: String = "/var/lib/swiftlet") throws {
        directory = rootDir + "/images"
        layersDirectory = directory + "/layers"
        blobsDirectory = directory + "/blobs/sha256"
        pinsDirectory = directory + "/pins"
        tmpDirectory = directory + "/tmp"
        for dir in [layersDirectory, blobsDirectory, pinsDirectory, tmpDirectory] {
            try ImageError.wrapping("creating the image store") { try FileSystem.createDirectory(dir, mode: 0o700) }
        }
    }

    // MARK: Reading

    /// Every image, sorted by first tag then id (stable output for `image ls`).
    public func list() throws -> [ImageRecord] {
        try loadIndex().images.sorted { ($0.repoTags.first ?? "~", $0.id.hex) < ($1.repoTags.first ?? "~", $1.id.hex) }
    }

    /// The record for a reference (`busybox`, `bars.local/busybox:1`, `name@sha256:…`), an id
    /// (`sha256:<hex>`, `<hex>`) or a unique id prefix.
    public func record(_ reference: String) throws -> ImageRecord {
        try find(reference, in: loadIndex())
    }

    /// Record, parsed config and overlay lower directories of an image. Cheap after the first
    /// call (one `stat` of the index; configs are cached by digest, being immutable).
    public func resolve(_ reference: String) throws -> ResolvedImage {
        try resolved(record(reference))
    }

    /// Absolute path of an unpacked layer's root (what goes into `lowerdir=`).
    public func layerDirectory(_ diffID: Digest) -> String {
        layersDirectory + "/" + diffID.hex + "/fs"
    }

    func resolved(_ record: ImageRecord) throws -> ResolvedImage {
        let config = try config(record.id)
        var seen = Set<Digest>()
        var lower: [String] = []
        for layer in record.layers.reversed() where seen.insert(layer).inserted {
            lower.append(layerDirectory(layer))
        }
        return ResolvedImage(record: record, config: config, lowerDirectories: lower)
    }

    func config(_ id: Digest) throws -> ImageConfig {
        if let cached = cache.withLock({ $0.configs[id] }) { return cached }
        let bytes = try ImageError.wrapping("reading the config of image \(id)") { try FileSystem.readBytes(blobPath(id)) }
        let config = try ImageConfig(json: bytes, what: "config of image \(id)")
        cache.withLock { $0.configs[id] = config }
        return config
    }

    func blobPath(_ digest: Digest) -> String { blobsDirectory + "/" + digest.hex }

    /// The index, re-read only when `index.json` was replaced since the last read.
    func loadIndex() throws -> StoreIndex {
        let path = directory + "/index.json"
        guard let st = FileSystem.lstatOrNil(path) else {
            return StoreIndex()
        }
        let identity = FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                                    seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec)
        if let cached = cache.withLock({ $0.identity == identity ? $0.index : nil }) { return cached }
        let bytes = try ImageError.wrapping("reading \(path)") { try FileSystem.readBytes(path) }
        let index = try decodeDocument(StoreIndex.self, bytes, what: path)
        cache.withLock {
            $0.identity = identity
            $0.index = index
        }
        return index
    }

    func find(_ reference: String, in index: StoreIndex) throws -> ImageRecord {
        if let digest = try? Digest(parsing: reference), let image = index.images.first(where: { $0.id == digest }) {
            return image
        }
        if let digest = try? Digest(hex: reference), let image = index.images.first(where: { $0.id == digest }) {
            return image
        }
        if let parsed = try? ImageReference(parsing: reference) {
            let name = parsed.description
            if parsed.digest != nil {
                if let image = index.images.first(where: { $0.repoDigests.contains(name) }) { return image }
            } else if let image = index.images.first(where: { $0.repoTags.contains(name) }) {
                return image
            }
        }
        var prefix = reference.hasPrefix("sha256:") ? String(reference.dropFirst(7)) : reference
        prefix = prefix.lowercased()
        if prefix.count >= 4, prefix.allSatisfy(\.isHexDigit) {
            let matches = index.images.filter { $0.id.hex.hasPrefix(prefix) }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 { throw ImageError.ambiguous(reference) }
        }
        throw ImageError.notFound(reference)
    }

    // MARK: Writing

    /// Runs `body` holding the store's exclusive lock (between processes and threads).
    func withLock<T>(_ body: () throws -> T) throws -> T {
        let lock = try ImageError.wrapping("locking the image store") {
            try FileDescriptor.open(directory + "/lock", O_RDWR | O_CREAT, mode: 0o600)
        }
        defer { lock.close() }
        try ImageError.wrapping("locking the image store") { try lock.lock() }
        return try body()
    }

    /// Reads the index bypassing the cache (inside the lock, the file is the truth).
    func loadIndexLocked() throws -> StoreIndex {
        let path = directory + "/index.json"
        guard FileSystem.exists(path) else { return StoreIndex() }
        let bytes = try ImageError.wrapping("reading \(path)") { try FileSystem.readBytes(path) }
        return try decodeDocument(StoreIndex.self, bytes, what: path)
    }

    func writeIndex(_ index: StoreIndex) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(index)
        try ImageError.wrapping("writing the image index") {
            try FileSystem.writeAtomically(directory + "/index.json", Array(data), mode: 0o600)
        }
    }

    /// Writes a content blob if it is not there yet (content-addressed: same name, same bytes).
    func storeBlob(_ bytes: [UInt8], digest: Digest) throws {
        let path = blobPath(digest)
        if FileSystem.exists(path) { return }
        try ImageError.wrapping("writing blob \(digest)") { try FileSystem.writeAtomically(path, bytes, mode: 0o600) }
    }

    /// An image whose layers are unpacked, waiting to become visible.
    struct PendingImage {
        var config: [UInt8]
        var manifest: [UInt8]?
        var manifestDigest: Digest?
        /// What `repoDigests` pin: the digest the image was named by at its source (an
        /// index's digest when a platform was picked from it, else the manifest's).
        var repoDigest: Digest?
        var layers: [Digest]
        var names: [ImageReference]
        var created: String?
    }

    /// Signals that a layer vanished between unpack and commit (a concurrent GC); the
    /// importer unpacks it again.
    struct LayerMissing: Error { let diffID: Digest }

    /// Makes an image visible: under the lock, checks its layers, stores config and manifest,
    /// moves its tags away from any other image, and replaces the index in one rename.
    func commit(_ pending: PendingImage) throws -> ImageRecord {
        try withLock {
            var size: Int64 = 0
            for layer in Set(pending.layers) {
                guard let meta = try? FileSystem.readBytes(layersDirectory + "/" + layer.hex + "/layer.json"),
                      let record = try? JSONDecoder().decode(LayerRecord.self, from: Data(meta)) else {
                    throw LayerMissing(diffID: layer)
                }
                size += record.size
            }
            let id = Digest.of(pending.config)
            try storeBlob(pending.config, digest: id)
            if let manifest = pending.manifest, let digest = pending.manifestDigest {
                try storeBlob(manifest, digest: digest)
            }
            var index = try loadIndexLocked()
            let tags = pending.names.filter { $0.digest == nil }.map(\.description)
            let digests = pending.names.compactMap { name in pending.repoDigest.map { name.withDigest($0).description } }
            for i in index.images.indices where index.images[i].id != id {
                index.images[i].repoTags.removeAll { tags.contains($0) }
            }
            var record = index.images.first { $0.id == id }
                ?? ImageRecord(id: id, repoTags: [], repoDigests: [], size: size, created: pending.created,
                               manifestDigest: pending.manifestDigest, layers: pending.layers)
            for tag in tags where !record.repoTags.contains(tag) { record.repoTags.append(tag) }
            for digest in digests where !record.repoDigests.contains(digest) { record.repoDigests.append(digest) }
            if record.manifestDigest == nil { record.manifestDigest = pending.manifestDigest }
            record.size = size
            index.images.removeAll { $0.id == id }
            index.images.append(record)
            try writeIndex(index)
            return record
        }
    }

    /// A fresh, unique work directory path under `tmp/` (not created). The pid in the name
    /// lets GC tell abandoned work (its process is gone) from work in progress.
    func temporaryPath(_ purpose: String) -> String {
        "\(tmpDirectory)/\(getpid()).\(UInt64.random(in: 0...UInt64.max)).\(purpose)"
    }

    /// Unpacks a layer into `layers/<diff id>` unless it is already there. The work happens
    /// in `tmp/` and becomes visible with one rename, so a crash or an error leaves no partial
    /// layer; if another process finished the same layer first, ours is discarded.
    /// Returns true when this call published the layer (for `discardUnreferenced`).
    @discardableResult
    func ensureLayer(_ diffID: Digest, name: String, expectedBlob: Digest?, expectedSize: Int64? = nil,
                     open: () throws -> ByteSource) throws -> Bool {
        let final = layersDirectory + "/" + diffID.hex
        if FileSystem.exists(final + "/layer.json") { return false }
        let work = temporaryPath("layer")
        try ImageError.wrapping("creating \(work)") { try FileSystem.createDirectory(work, mode: 0o700) }
        defer { try? FileSystem.removeTree(work) }
        let unpacked = try LayerUnpacker.unpack(try open(), into: work + "/fs", name: name,
                                                expectedBlob: expectedBlob, expectedDiffID: diffID)
        if let expectedSize, unpacked.blobSize != expectedSize {
            throw ImageError.invalidDocument(what: name, reason: "blob is \(unpacked.blobSize) bytes, descriptor says \(expectedSize)")
        }
        let meta = try JSONEncoder().encode(LayerRecord(diffID: diffID, size: unpacked.size))
        try ImageError.wrapping("writing layer metadata") {
            try FileSystem.writeAtomically(work + "/layer.json", Array(meta), mode: 0o600)
        }
        do {
            try FileSystem.renameItem(work, to: final, noReplace: true)
            return true
        } catch let error as SystemError where error.errno == EEXIST || error.errno == ENOTEMPTY {
            return false  // someone else committed the same layer; ours is removed by the defer
        } catch {
            throw ImageError.system("\(error)")
        }
    }
}
