import Foundation
import Glibc
import LinuxPrimitives

/// Removal, pins and garbage collection.
///
/// Why pins and not reference counts: a running container needs its layer directories (its
/// overlay mount holds them open, but a restart of the container re-mounts them), while
/// `image rm` or kubelet's image GC may remove the image record at any time — as containerd
/// allows, the record goes away and the layers stay until no container needs them. A pin is
/// one small file per holder (`pins/<container id>.json`, written atomically under the store
/// lock) naming the image and its layers, so it survives agent restarts with no counter to
/// get out of step: a layer is removable exactly when no image record and no pin file names
/// it. The runtime pins when it creates a container and unpins when it removes it; after a
/// crash it can compare `pinHolders()` with its containers and unpin the orphans.
extension ImageStore {
    /// Removes the image (all its tags and digests, as CRI `RemoveImage` does) and returns
    /// its record. Layers and blobs no other image or pin uses are deleted.
    @discardableResult
    public func remove(_ reference: String) throws -> ImageRecord {
        try withLock {
            var index = try loadIndexLocked()
            let record = try find(reference, in: index)
            index.images.removeAll { $0.id == record.id }
            try writeIndex(index)
            try collectLocked(index: index)
            return record
        }
    }

    /// Keeps the image's layers (and config) on disk for `holder` — a container id — until
    /// `unpin(holder:)`, even if the image is removed meanwhile. Pinning again replaces the
    /// holder's previous pin. Returns the image as `resolve` does.
    @discardableResult
    public func pin(_ reference: String, holder: String) throws -> ResolvedImage {
        let path = try pinPath(holder)
        return try withLock {
            let record = try find(reference, in: try loadIndexLocked())
            let data = try JSONEncoder().encode(PinRecord(image: record.id, layers: record.layers))
            try ImageError.wrapping("writing pin \(holder)") { try FileSystem.writeAtomically(path, Array(data), mode: 0o600) }
            return try resolved(record)
        }
    }

    /// Releases `holder`'s pin (idempotent) and deletes what only it kept alive.
    public func unpin(holder: String) throws {
        let path = try pinPath(holder)
        try withLock {
            guard FileSystem.exists(path) else { return }
            try ImageError.wrapping("removing pin \(holder)") { try FileSystem.removeFile(path) }
            try collectLocked(index: try loadIndexLocked())
        }
    }

    /// The holders that currently pin something (for the runtime's orphan check).
    public func pinHolders() throws -> [String] {
        try FileSystem.listDirectory(pinsDirectory).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// The image a holder pinned, if any: lets a restarted runtime rebuild a container's
    /// rootfs after the image was removed.
    public func pinnedImage(holder: String) throws -> ResolvedImage? {
        let path = try pinPath(holder)
        guard FileSystem.exists(path) else { return nil }
        let pin = try decodeDocument(PinRecord.self, try FileSystem.readBytes(path), what: path)
        let index = try loadIndex()
        if let record = index.images.first(where: { $0.id == pin.image }) { return try resolved(record) }
        let config = try config(pin.image)
        let record = ImageRecord(id: pin.image, repoTags: [], repoDigests: [], size: 0, created: config.created,
                                 manifestDigest: nil, layers: pin.layers)
        return try resolved(record)
    }

    /// Full collection: unreferenced layers and blobs, and work directories of processes that
    /// no longer exist. Safe to run any time, from any process.
    public func garbageCollect() throws {
        try withLock { try collectLocked(index: try loadIndexLocked()) }
        for name in try FileSystem.listDirectory(tmpDirectory) {
            guard let pid = Int32(name.prefix(while: { $0 != "." })), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileSystem.removeTree(tmpDirectory + "/" + name)
            }
        }
    }

    /// Deletes layers and blobs that neither an image record nor a pin names. Caller holds the lock.
    func collectLocked(index: StoreIndex) throws {
        guard let live = try liveContent(index) else { return }
        for name in try FileSystem.listDirectory(layersDirectory) {
            guard let digest = try? Digest(hex: name), !live.layers.contains(digest) else { continue }
            try removeLayerLocked(digest)
        }
        for name in try FileSystem.listDirectory(blobsDirectory) {
            guard let digest = try? Digest(hex: name), !live.blobs.contains(digest) else { continue }
            try ImageError.wrapping("removing blob \(digest)") { try FileSystem.removeFile(blobsDirectory + "/" + name) }
        }
    }

    /// After a failed import or pull: removes the layers it published that no image or pin
    /// uses, so a failure leaves nothing behind. (A concurrent import that wanted one of them
    /// notices at its commit and unpacks it again.)
    func discardUnreferenced(_ layers: Set<Digest>) {
        guard !layers.isEmpty else { return }
        try? withLock {
            guard let live = try liveContent(try loadIndexLocked()) else { return }
            for layer in layers.subtracting(live.layers) { try removeLayerLocked(layer) }
        }
    }

    /// What images and pins keep alive; nil when a pin cannot be read (then nothing may go:
    /// never delete what a container may need).
    private func liveContent(_ index: StoreIndex) throws -> (layers: Set<Digest>, blobs: Set<Digest>)? {
        var layers = Set<Digest>()
        var blobs = Set<Digest>()
        for image in index.images {
            layers.formUnion(image.layers)
            blobs.insert(image.id)
            if let manifest = image.manifestDigest { blobs.insert(manifest) }
        }
        for holder in try pinHolders() {
            let path = pinsDirectory + "/" + holder + ".json"
            guard let bytes = try? FileSystem.readBytes(path) else { continue }
            guard let pin = try? JSONDecoder().decode(PinRecord.self, from: Data(bytes)) else { return nil }
            layers.formUnion(pin.layers)
            blobs.insert(pin.image)
        }
        return (layers, blobs)
    }

    /// Renames the layer out of `layers/` first, so a layer directory is either complete or
    /// absent, never half-deleted; then deletes it.
    private func removeLayerLocked(_ digest: Digest) throws {
        let path = layersDirectory + "/" + digest.hex
        guard FileSystem.exists(path) else { return }
        let doomed = temporaryPath("gc")
        try ImageError.wrapping("removing layer \(digest)") {
            try FileSystem.renameItem(path, to: doomed)
            try FileSystem.removeTree(doomed)
        }
    }

    func pinPath(_ holder: String) throws -> String {
        let ok = !holder.isEmpty && holder.utf8.count <= 200 && !holder.hasPrefix(".")
            && holder.utf8.allSatisfy { b in
                (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 46 || b == 95 || b == 45
            }
        guard ok else { throw ImageError.invalidHolder(holder) }
        return pinsDirectory + "/" + holder + ".json"
    }
}
