/// One image in the store, as `image ls`, CRI `ListImages` and the runtime see it.
public struct ImageRecord: Codable, Sendable, Equatable {
    /// The config digest (what `docker images`, crictl and CRI call the image id).
    public var id: Digest
    /// Normalised `repository:tag` references pointing at this image.
    public var repoTags: [String]
    /// `repository@sha256:<manifest digest>` references (from registries and OCI layouts).
    public var repoDigests: [String]
    /// Bytes of file content in the unpacked layers (what the image costs on disk here).
    public var size: Int64
    /// Creation time from the image config (RFC 3339), if it has one.
    public var created: String?
    /// Digest of the manifest the image came from (nil for docker-archive imports).
    public var manifestDigest: Digest?
    /// Uncompressed layer digests (diff ids), bottom layer first.
    public var layers: [Digest]

    public init(id: Digest, repoTags: [String], repoDigests: [String], size: Int64, created: String?,
                manifestDigest: Digest?, layers: [Digest]) {
        self.id = id
        self.repoTags = repoTags
        self.repoDigests = repoDigests
        self.size = size
        self.created = created
        self.manifestDigest = manifestDigest
        self.layers = layers
    }

    /// What CRI calls `image_ref` / kubelet `imageID`: the first repo digest if the image
    /// has one (a pullable, immutable name), else the config digest.
    public var imageRef: String { repoDigests.first ?? id.description }
}

/// An image ready to run: its record, its parsed config and the overlay lower directories.
public struct ResolvedImage: Sendable {
    public let record: ImageRecord
    public let config: ImageConfig
    /// Absolute paths of the unpacked layers, TOP layer first, as overlayfs `lowerdir=` wants
    /// them (`lowerdir=\(lowerDirectories.joined(separator: ":"))`). A layer that occurs twice
    /// in the image is listed once, at its topmost position (same merged result: a repeated
    /// diff re-applies identical content). Never empty for a valid image.
    public let lowerDirectories: [String]
}

/// The on-disk index: every image record, rewritten atomically as a whole.
struct StoreIndex: Codable {
    var version: Int = 1
    var images: [ImageRecord] = []
}

/// Which layers (and config) a pin holder keeps alive, written as `pins/<holder>.json`.
struct PinRecord: Codable {
    var image: Digest
    var layers: [Digest]
}

/// Written as `layers/<diff id hex>/layer.json` when a layer is complete.
struct LayerRecord: Codable {
    var diffID: Digest
    var size: Int64
}
