import Glibc
import LinuxPrimitives
import NIOPosix
import Synchronization

/// Pulls from registries (OCI distribution API v2).
///
/// Order of work: manifest (an index is narrowed to linux/amd64), config, then every missing
/// layer concurrently — downloaded into `tmp/` with its digest checked as it streams, then
/// unpacked on NIO's blocking thread pool (never on the cooperative pool) with blob digest
/// and diff id checked again — and finally one commit under the store lock. Nothing is
/// visible before that commit; a failure leaves only work files, which are removed.
extension ImageStore {
    /// Pulls `reference` (tag or digest) and returns the image record. Concurrent pulls of
    /// the same reference in this process share one pull; concurrent pulls of different
    /// images share the download of a common layer.
    @discardableResult
    public func pull(_ reference: String, options: PullOptions = PullOptions()) async throws -> ImageRecord {
        let ref = try ImageReference(parsing: reference)
        return try await pulls.run(key: ref.description) {
            try await self.performPull(ref, options: options)
        }
    }

    private func performPull(_ ref: ImageReference, options: PullOptions) async throws -> ImageRecord {
        let session = RegistrySession(reference: ref, options: options)
        let top = try await session.manifest(ref.digest?.description ?? ref.tag ?? "latest")
        var manifestBytes = top.bytes
        var manifestDigest = top.digest
        let probe = try decodeDocument(MediaTypeProbe.self, top.bytes, what: "manifest \(ref)")
        let topType = probe.mediaType ?? top.mediaType
        if MediaType.isIndex(topType) || (probe.manifests != nil && probe.config == nil) {
            let index = try decodeDocument(ImageIndex.self, top.bytes, what: "index \(ref)")
            let chosen = try Self.platformManifest(index, what: "index \(ref)")
            let platform = try await session.manifest(chosen.digest.description)
            manifestBytes = platform.bytes
            manifestDigest = platform.digest
        } else if topType == MediaType.dockerSchema1Signed || probe.schemaVersion == 1 {
            throw ImageError.unsupported("\(ref): Docker schema 1 manifest")
        }
        let manifest = try decodeDocument(ImageManifest.self, manifestBytes, what: "manifest \(manifestDigest)")
        // A config we already hold (re-pull of a known image) is not fetched again.
        let local = (try? FileSystem.readBytes(blobPath(manifest.config.digest))).flatMap {
            Digest.of($0) == manifest.config.digest ? $0 : nil
        }
        let configBytes: [UInt8]
        if let local { configBytes = local } else { configBytes = try await session.smallBlob(manifest.config, limit: 16 << 20) }
        let config = try ImageConfig(json: configBytes, what: "config \(manifest.config.digest)")
        try checkPlatform(config, what: "config \(manifest.config.digest)")
        guard config.diffIDs.count == manifest.layers.count else {
            throw ImageError.invalidDocument(what: "manifest \(manifestDigest)", reason:
                "\(manifest.layers.count) layers, but the config lists \(config.diffIDs.count) diff_ids")
        }
        let pending = PendingImage(config: configBytes, manifest: manifestBytes, manifestDigest: manifestDigest,
                                   repoDigest: top.digest, layers: config.diffIDs, names: [ref], created: config.created)
        let created = DigestSet()
        do {
            return try await fetchLayersAndCommit(pending, layers: zip(config.diffIDs, manifest.layers).map { ($0, $1) },
                                                  session: session, created: created)
        } catch {
            discardUnreferenced(created.contents)
            throw error
        }
    }

    private func fetchLayersAndCommit(_ pending: PendingImage, layers: [(Digest, Descriptor)], session: RegistrySession,
                                      created: DigestSet) async throws -> ImageRecord {
        let ref = pending.names.first.map(\.description) ?? "image"
        for attempt in 0..<3 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (diffID, descriptor) in Set(layers.map { Pair($0, $1) }).map({ ($0.diffID, $0.descriptor) }) {
                    if FileSystem.exists(layersDirectory + "/" + diffID.hex + "/layer.json") { continue }
                    group.addTask {
                        let published = try await self.layerPulls.run(key: diffID.description) {
                            try await self.pullLayer(diffID, descriptor, session: session)
                        }
                        if published { created.insert(diffID) }
                    }
                }
                try await group.waitForAll()
            }
            do {
                return try commit(pending)
            } catch is LayerMissing {
                if attempt < 2 { continue }
            }
        }
        throw ImageError.system("layers kept disappearing during the pull of \(ref) (concurrent garbage collection)")
    }

    /// Downloads and unpacks one layer; true when this call published it.
    private func pullLayer(_ diffID: Digest, _ descriptor: Descriptor, session: RegistrySession) async throws -> Bool {
        let file = temporaryPath("blob")
        defer { try? FileSystem.removeFile(file) }
        try await session.download(descriptor, to: file)
        let name = "layer \(descriptor.digest)"
        return try await NIOThreadPool.singleton.runIfActive {
            try self.ensureLayer(diffID, name: name, expectedBlob: descriptor.digest, expectedSize: descriptor.size) {
                let fd = try FileDescriptor.open(file, O_RDONLY)
                return OwnedFileSource(FileRangeSource(fd: fd, name: name))
            }
        }
    }
}

/// A layer of the manifest keyed for de-duplication (an image may list one layer twice).
private struct Pair: Hashable {
    let diffID: Digest
    let descriptor: Descriptor
    init(_ diffID: Digest, _ descriptor: Descriptor) {
        self.diffID = diffID
        self.descriptor = descriptor
    }
    static func == (a: Pair, b: Pair) -> Bool { a.diffID == b.diffID }
    func hash(into hasher: inout Hasher) { hasher.combine(diffID) }
}

/// A set shared by the concurrent layer tasks of one pull.
final class DigestSet: Sendable {
    private let storage = Mutex(Set<Digest>())
    func insert(_ digest: Digest) { storage.withLock { _ = $0.insert(digest) } }
    var contents: Set<Digest> { storage.withLock { $0 } }
}

/// A file source that closes its descriptor when released.
final class OwnedFileSource: ByteSource {
    private let inner: FileRangeSource
    init(_ inner: FileRangeSource) { self.inner = inner }
    deinit { inner.fd.close() }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try inner.read(into: buffer) }
}

/// Runs one operation per key at a time: callers arriving while it runs await the same
/// result instead of starting their own (singleflight). The operation runs in its own task
/// so one caller's cancellation does not fail the others.
final class SingleFlight<Value: Sendable>: Sendable {
    private let running = Mutex<[String: Task<Value, Error>]>([:])

    init() {}

    func run(key: String, _ operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let task = running.withLock { tasks -> Task<Value, Error> in
            if let existing = tasks[key] { return existing }
            let task = Task<Value, Error> {
                defer { self.running.withLock { _ = $0.removeValue(forKey: key) } }
                return try await operation()
            }
            tasks[key] = task
            return task
        }
        return try await task.value
    }
}
