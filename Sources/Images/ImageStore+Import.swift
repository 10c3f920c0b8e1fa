import Glibc
import LinuxPrimitives

/// Import of image archives: an OCI image layout (directory or tar) or a docker-archive
/// (`docker save`: `manifest.json` with `RepoTags`), told apart by their contents. A gzip
/// compressed archive is first decompressed into the store's work area.
extension ImageStore {
    /// Imports every image in the archive at `path` and returns their records. `baseName`
    /// names images of an OCI layout whose `org.opencontainers.image.ref.name` is only a tag
    /// (`latest` → `<baseName>:latest`). Blocking: call it off the cooperative pool.
    @discardableResult
    public func importArchive(at path: String, baseName: String? = nil) throws -> [ImageRecord] {
        let base = try baseName.map { try ImageReference(parsing: $0) }
        let archive = try openArchive(path)
        defer { if let temp = archive.temp { try? FileSystem.removeFile(temp) } }
        let members = archive.members
        if members.exists("manifest.json") {
            return try importDockerArchive(members)
        }
        if members.exists("index.json") {
            return try importOCILayout(members, base: base)
        }
        throw ImageError.invalidArchive(path: path, reason:
            "neither an OCI image layout (no index.json) nor a docker-archive (no manifest.json)")
    }

    private func openArchive(_ path: String) throws -> (members: ArchiveMembers, temp: String?) {
        if FileSystem.isDirectory(path) { return (try DirectoryArchive(path), nil) }
        let fd = try ImageError.wrapping("opening \(path)") { try FileDescriptor.open(path, O_RDONLY) }
        var head = [UInt8](repeating: 0, count: 4)
        let n = try head.withUnsafeMutableBytes { try fd.read(into: $0, at: 0) }
        guard head.prefix(n).withUnsafeBytes({ Compression.detect($0) }) == .gzip else {
            do { return (try TarArchive(path, fd: fd), nil) } catch {
                throw ImageError.context("reading archive \(path)", error as? ImageError ?? .system("\(error)"))
            }
        }
        // A compressed archive has no random access: inflate it into the work area once.
        defer { fd.close() }
        let temp = temporaryPath("archive.tar")
        do {
            let out = try FileDescriptor.open(temp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            defer { out.close() }
            let source = try GzipSource(FileRangeSource(fd: fd, name: path), name: path)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let got = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                if got == 0 { break }
                try buffer.withUnsafeBytes { try out.writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            }
            let tarFD = try FileDescriptor.open(temp, O_RDONLY)
            return (try TarArchive(path, fd: tarFD), temp)
        } catch {
            try? FileSystem.removeFile(temp)
            throw error
        }
    }

    // MARK: docker-archive

    private struct DockerManifestEntry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    private func importDockerArchive(_ members: ArchiveMembers) throws -> [ImageRecord] {
        let what = "\(members.location): manifest.json"
        let entries = try decodeDocument([DockerManifestEntry].self, try members.read("manifest.json", limit: 4 << 20), what: what)
        guard !entries.isEmpty else { throw ImageError.invalidArchive(path: members.location, reason: "manifest.json lists no image") }
        var records: [ImageRecord] = []
        for (i, entry) in entries.enumerated() {
            let names = try (entry.RepoTags ?? []).map { tag in
                do { return try ImageReference(parsing: tag) } catch {
                    throw ImageError.invalidDocument(what: "\(what) [\(i)].RepoTags", reason: "\(error)")
                }
            }
            let configBytes = try members.read(entry.Config, limit: 16 << 20)
            let id = Digest.of(configBytes)
            // Docker names the config after its digest: "<hex>.json" or "blobs/sha256/<hex>".
            let stem = entry.Config.split(separator: "/").last.map { $0.hasSuffix(".json") ? String($0.dropLast(5)) : String($0) }
            if let stem, (try? Digest(hex: stem)) != nil, stem != id.hex {
                throw ImageError.digestMismatch(what: "\(members.location): \(entry.Config)", expected: "sha256:" + stem,
                                                actual: id.description)
            }
            let config = try ImageConfig(json: configBytes, what: "\(members.location): \(entry.Config)")
            try checkPlatform(config, what: "\(members.location): \(entry.Config)")
            guard config.diffIDs.count == entry.Layers.count else {
                throw ImageError.invalidDocument(what: "\(what) [\(i)]", reason:
                    "\(entry.Layers.count) layers, but the config lists \(config.diffIDs.count) diff_ids")
            }
            let layers = zip(config.diffIDs, entry.Layers).map { diffID, member in
                LayerSource(diffID: diffID, name: "layer \(member)", blob: nil, size: nil, open: { try members.open(member) })
            }
            let pending = PendingImage(config: configBytes, manifest: nil, manifestDigest: nil, repoDigest: nil,
                                       layers: config.diffIDs, names: names, created: config.created)
            records.append(try publish(pending, layers: layers))
        }
        return records
    }

    // MARK: OCI image layout

    private func importOCILayout(_ members: ArchiveMembers, base: ImageReference?) throws -> [ImageRecord] {
        let index = try decodeDocument(ImageIndex.self, try members.read("index.json", limit: 4 << 20),
                                       what: "\(members.location): index.json")
        var records: [ImageRecord] = []
        for (i, descriptor) in index.manifests.enumerated() {
            let names = try layoutNames(descriptor, base: base, what: "\(members.location): index.json manifests[\(i)]")
            let (manifestDescriptor, manifestBytes) = try pickManifest(descriptor, members: members)
            let manifest = try decodeDocument(ImageManifest.self, manifestBytes, what: "manifest \(manifestDescriptor.digest)")
            let configBytes = try readBlob(manifest.config, members: members, limit: 16 << 20)
            let config = try ImageConfig(json: configBytes, what: "config \(manifest.config.digest)")
            try checkPlatform(config, what: "config \(manifest.config.digest)")
            guard config.diffIDs.count == manifest.layers.count else {
                throw ImageError.invalidDocument(what: "manifest \(manifestDescriptor.digest)", reason:
                    "\(manifest.layers.count) layers, but the config lists \(config.diffIDs.count) diff_ids")
            }
            let layers = zip(config.diffIDs, manifest.layers).map { diffID, layer in
                LayerSource(diffID: diffID, name: "layer \(layer.digest)", blob: layer.digest, size: layer.size,
                            open: { try members.open(Self.blobMember(layer.digest)) })
            }
            let pending = PendingImage(config: configBytes, manifest: manifestBytes, manifestDigest: manifestDescriptor.digest,
                                       repoDigest: descriptor.digest, layers: config.diffIDs, names: names,
                                       created: config.created)
            records.append(try publish(pending, layers: layers))
        }
        return records
    }

    static func blobMember(_ digest: Digest) -> String { "blobs/sha256/" + digest.hex }

    /// Names from the layout's annotations: containerd's full `io.containerd.image.name`, else
    /// `org.opencontainers.image.ref.name` (a full reference, or a tag completed by `base`).
    private func layoutNames(_ descriptor: Descriptor, base: ImageReference?, what: String) throws -> [ImageReference] {
        let annotations = descriptor.annotations ?? [:]
        do {
            if let full = annotations["io.containerd.image.name"] { return [try ImageReference(parsing: full)] }
            guard let ref = annotations["org.opencontainers.image.ref.name"] else { return base.map { [$0] } ?? [] }
            if ref.contains("/") || ref.contains(":") || ref.contains("@") { return [try ImageReference(parsing: ref)] }
            if let base { return [base.withTag(ref)] }
            return []
        } catch {
            throw ImageError.invalidDocument(what: "\(what).annotations", reason: "\(error)")
        }
    }

    /// Reads a blob of the layout, checking its size and digest.
    private func readBlob(_ descriptor: Descriptor, members: ArchiveMembers, limit: Int) throws -> [UInt8] {
        let bytes = try members.read(Self.blobMember(descriptor.digest), limit: limit)
        let actual = Digest.of(bytes)
        guard actual == descriptor.digest else {
            throw ImageError.digestMismatch(what: "\(members.location): \(Self.blobMember(descriptor.digest))",
                                            expected: descriptor.digest.description, actual: actual.description)
        }
        guard Int64(bytes.count) == descriptor.size else {
            throw ImageError.invalidDocument(what: "blob \(descriptor.digest)", reason:
                "\(bytes.count) bytes, descriptor says \(descriptor.size)")
        }
        return bytes
    }

    /// Follows image indexes down to the linux/amd64 manifest.
    private func pickManifest(_ descriptor: Descriptor, members: ArchiveMembers) throws -> (Descriptor, [UInt8]) {
        var current = descriptor
        for _ in 0..<4 {
            let bytes = try readBlob(current, members: members, limit: 4 << 20)
            let probe = try decodeDocument(MediaTypeProbe.self, bytes, what: "blob \(current.digest)")
            let type = probe.mediaType ?? current.mediaType
            if MediaType.isIndex(type) || (probe.manifests != nil && probe.config == nil) {
                let index = try decodeDocument(ImageIndex.self, bytes, what: "index \(current.digest)")
                current = try Self.platformManifest(index, what: "index \(current.digest)")
                continue
            }
            if type == MediaType.dockerSchema1Signed || probe.schemaVersion == 1 {
                throw ImageError.unsupported("manifest \(current.digest): Docker schema 1")
            }
            return (current, bytes)
        }
        throw ImageError.invalidDocument(what: "index \(descriptor.digest)", reason: "indexes nested too deep")
    }

    /// The entry for linux/amd64 (the node's platform), as containerd's default matcher picks it.
    static func platformManifest(_ index: ImageIndex, what: String) throws -> Descriptor {
        let candidates = index.manifests.filter { MediaType.isManifest($0.mediaType) || $0.mediaType == nil || MediaType.isIndex($0.mediaType) }
        if let match = candidates.first(where: { $0.platform?.os == "linux" && $0.platform?.architecture == "amd64" }) {
            return match
        }
        if candidates.count == 1, candidates[0].platform == nil { return candidates[0] }
        let offered = candidates.compactMap { $0.platform.map { "\($0.os)/\($0.architecture)" } }
        throw ImageError.unsupported("\(what) has no linux/amd64 image (offers: \(offered.joined(separator: ", ")))")
    }

    func checkPlatform(_ config: ImageConfig, what: String) throws {
        if !config.os.isEmpty && config.os != "linux" {
            throw ImageError.unsupported("\(what): image for os \"\(config.os)\"")
        }
    }

    /// Where a layer's bytes come from.
    struct LayerSource {
        var diffID: Digest
        var name: String
        var blob: Digest?
        var size: Int64?
        var open: () throws -> ByteSource
    }

    /// Unpacks the missing layers, then commits; if a concurrent GC removed a layer between
    /// the two, unpacks it again (bounded).
    func publish(_ pending: PendingImage, layers: [LayerSource]) throws -> ImageRecord {
        var created = Set<Digest>()
        do {
            for attempt in 0..<3 {
                for layer in layers {
                    if try ensureLayer(layer.diffID, name: layer.name, expectedBlob: layer.blob, expectedSize: layer.size,
                                       open: layer.open) {
                        created.insert(layer.diffID)
                    }
                }
                do {
                    return try commit(pending)
                } catch is LayerMissing {
                    if attempt < 2 { continue }
                }
            }
            throw ImageError.system("layers kept disappearing during import (concurrent garbage collection)")
        } catch {
            discardUnreferenced(created)
            throw error
        }
    }
}
