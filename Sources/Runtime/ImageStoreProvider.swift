import Images


/// The image store as the runtime sees it: references resolve to overlay layers, and each
/// container pins its image's layers until it is removed.
/// (The store is the agent's `--root-dir`/images; see Images.ImageStore.)
public struct ImageStoreProvider: ImageProvider {
    public let store: ImageStore

    public init(store: ImageStore) { self.store = store }

    public func resolve(_ reference: String) throws -> Runtime.ResolvedImage {
        do { return convert(try store.resolve(reference), reference: reference) } catch ImageError.notFound(let ref) {
            throw ImageNotFound(reference: ref)
        }
    }

    public func retain(_ image: Runtime.ResolvedImage, for containerID: String) throws {
        try store.pin(image.id, holder: containerID)
    }

    public func release(containerID: String) throws {
        try store.unpin(holder: containerID)
    }

    func convert(_ image: Images.ResolvedImage, reference: String) -> Runtime.ResolvedImage {
        let c = image.config
        return Runtime.ResolvedImage(id: image.record.id.description, reference: image.record.repoTags.first ?? reference,
                                     layerDirs: image.lowerDirectories, env: c.env, entrypoint: c.entrypoint, cmd: c.cmd,
                                     workingDir: c.workingDir ?? "", user: c.user ?? "", stopSignal: c.stopSignal ?? "")
    }
}
