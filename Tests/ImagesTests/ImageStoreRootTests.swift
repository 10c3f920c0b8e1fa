import Foundation
import Glibc
import LinuxPrimitives
import Testing
@testable import Images

/// Import, resolve, list, remove and pin against a real store on disk, with images our own
/// builder writes from Debian's busybox-static. Root: layers carry owners and device nodes.
@Suite(.enabled(if: geteuid() == 0, "needs root (owners, device nodes, trusted.* xattrs)"))
struct ImageStoreRootTests {
    let scratch: ScratchDirectory
    let store: ImageStore

    init() throws {
        scratch = try ScratchDirectory()
        store = try ImageStore(rootDir: scratch.path + "/root")
    }

    @Test(arguments: ["docker", "oci-dir", "oci-tar"])
    func importsEachFormat(format: String) throws {
        let image = try Fixtures.busybox(in: scratch.path + "/img")
        let path = format == "docker" ? image.dockerTar : format == "oci-dir" ? image.ociDirectory : image.ociTar
        let records = try store.importArchive(at: path)
        #expect(records.count == 1)
        let record = try #require(records.first)
        #expect(record.id.description == image.configDigest)
        #expect(record.repoTags == ["test.local/busybox:latest"])
        #expect(record.layers.map(\.description) == image.diffIDs)
        if format == "docker" {
            #expect(record.repoDigests.isEmpty)
        } else {
            #expect(record.repoDigests == ["test.local/busybox@\(image.manifestDigest)"])
        }
        #expect(record.size == Int64(try FileSystem.readBytes("/bin/busybox").count + 30))

        let resolved = try store.resolve("test.local/busybox")
        #expect(resolved.record == record)
        #expect(resolved.config.env == ["PATH=/bin"])
        #expect(resolved.config.cmd == ["/bin/sh"])
        #expect(resolved.config.entrypoint == ["/bin/busybox"])
        #expect(resolved.config.workingDir == "/")
        #expect(resolved.config.user == "0:0")
        #expect(resolved.config.exposedPorts == ["80/tcp"])
        #expect(resolved.config.labels == ["a": "b"])
        #expect(resolved.config.stopSignal == "SIGQUIT")
        #expect(resolved.config.created == "2024-01-02T03:04:05Z")
        #expect(resolved.lowerDirectories.count == 1)
        let fs = try #require(resolved.lowerDirectories.first)
        #expect(try FileSystem.readBytes(fs + "/bin/busybox") == FileSystem.readBytes("/bin/busybox"))
        #expect(try FileSystem.readString(fs + "/etc/passwd") == "root:x:0:0:root:/root:/bin/sh\n")
        #expect(lstatOf(fs + "/tmp").map { $0.st_mode & 0o7777 } == 0o1777)
        // Every spelling finds it: id, short id, id prefix, repo digest.
        #expect(try store.record(image.configDigest).id == record.id)
        #expect(try store.record(String(record.id.hex.prefix(12))).id == record.id)
        if format != "docker" {
            #expect(try store.record("test.local/busybox@\(image.manifestDigest)").id == record.id)
        }
        #expect(treeListing(store.tmpDirectory).isEmpty)
    }

    @Test func layersAreSharedAndTagsMove() throws {
        let a = try Fixtures.busybox(in: scratch.path + "/a", name: "test.local/a:1")
        // Same layer, different config (another Cmd) → another image sharing the layer.
        let b = try Fixtures.build(in: scratch.path + "/b", name: "test.local/a:1",
                                   layers: [[Fixtures.entry("f", data: "1")]])
        let first = try store.importArchive(at: a.ociTar)[0]
        _ = try store.importArchive(at: a.dockerTar)
        #expect(try store.list().count == 1)
        let second = try store.importArchive(at: b.dockerTar)[0]
        let images = try store.list()
        #expect(images.count == 2)
        // The tag moved to the newer image; the older one stays, untagged, by id.
        #expect(try store.record("test.local/a:1").id == second.id)
        #expect(try store.record(first.id.description).repoTags.isEmpty)
        #expect(try FileSystem.listDirectory(store.layersDirectory).count == 2)
        try store.remove(first.id.description)
        #expect(try FileSystem.listDirectory(store.layersDirectory) == [second.layers[0].hex])
        #expect(throws: ImageError.notFound(first.id.description)) { try store.record(first.id.description) }
    }

    @Test func pinnedLayersOutliveImageRemoval() throws {
        let image = try Fixtures.busybox(in: scratch.path + "/img")
        try store.importArchive(at: image.dockerTar)
        let pinned = try store.pin("test.local/busybox:latest", holder: "container-1")
        try store.pin("test.local/busybox:latest", holder: "container-2")
        #expect(try store.pinHolders() == ["container-1", "container-2"])
        let removed = try store.remove("test.local/busybox")
        #expect(removed.id == pinned.record.id)
        #expect(try store.list().isEmpty)
        let lower = try #require(pinned.lowerDirectories.first)
        #expect(FileSystem.exists(lower + "/bin/busybox"), "a pinned layer must survive image rm")
        // A restarted runtime can still rebuild the container's view from the pin.
        #expect(try store.pinnedImage(holder: "container-1")?.lowerDirectories == pinned.lowerDirectories)
        try store.unpin(holder: "container-1")
        #expect(FileSystem.exists(lower + "/bin/busybox"), "still pinned by container-2")
        try store.unpin(holder: "container-2")
        try store.unpin(holder: "container-2")  // idempotent
        #expect(!FileSystem.exists(lower))
        #expect(try FileSystem.listDirectory(store.blobsDirectory).isEmpty)
        #expect(throws: ImageError.invalidHolder("../x")) { try store.pin("x", holder: "../x") }
    }

    @Test func concurrentImportsOfOneImageAgree() async throws {
        let image = try Fixtures.busybox(in: scratch.path + "/img")
        let store = self.store
        let ids = try await withThrowingTaskGroup(of: Digest.self) { group in
            for path in [image.dockerTar, image.ociTar, image.ociDirectory, image.dockerTar] {
                group.addTask { try store.importArchive(at: path)[0].id }
            }
            return try await group.reduce(into: Set<Digest>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        #expect(try store.list().count == 1)
        #expect(try FileSystem.listDirectory(store.layersDirectory).count == 1)
        #expect(treeListing(store.tmpDirectory).isEmpty)
    }

    @Test func multiLayerImageListsLowerDirectoriesTopFirst() throws {
        let image = try Fixtures.build(in: scratch.path + "/img", layers: [
            [Fixtures.entry("one", data: "1")], [Fixtures.entry("two", data: "2")], [Fixtures.entry("one", data: "1")],
        ])
        let record = try store.importArchive(at: image.ociTar)[0]
        #expect(record.layers.count == 3)
        let resolved = try store.resolve(record.id.description)
        // Layer 1 repeats at the top: listed once, at its topmost position.
        #expect(resolved.lowerDirectories == [store.layerDirectory(record.layers[2]), store.layerDirectory(record.layers[1])])
    }

    @Test func unknownAndAmbiguousReferences() throws {
        #expect(throws: ImageError.notFound("nothing:here")) { try store.resolve("nothing:here") }
        #expect(throws: ImageError.notFound("test.local/busybox")) { try store.remove("test.local/busybox") }
        let notAnArchive = scratch.path + "/empty"
        try FileSystem.createDirectory(notAnArchive)
        #expect { try store.importArchive(at: notAnArchive) } throws: { "\($0)".contains("neither an OCI image layout") }
    }
}
