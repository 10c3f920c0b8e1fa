import Foundation
import Glibc
import LinuxPrimitives
import Testing
@testable import Images

/// Pulls from a real registry (Debian's docker-registry) on 127.0.0.1, into which an
/// independent client (skopeo) pushed an image our builder made from busybox-static.
/// Root: unpacking keeps owners. Needs docker-registry, skopeo and apache2-utils installed.
@Suite(.enabled(if: geteuid() == 0, "needs root (layer owners)"),
       .enabled(if: LocalRegistry.toolsInstalled, "needs Debian's docker-registry, skopeo and apache2-utils"))
struct RegistryPullRootTests {
    let scratch: ScratchDirectory
    let store: ImageStore

    init() throws {
        scratch = try ScratchDirectory()
        store = try ImageStore(rootDir: scratch.path + "/root")
    }

    func insecure(_ registry: LocalRegistry, credentials: RegistryCredentials? = nil) -> PullOptions {
        PullOptions(credentials: credentials, insecureRegistries: [registry.host])
    }

    @Test func pullsByTagAndByDigestOverPlainHTTP() async throws {
        let registry = try LocalRegistry(in: scratch.path + "/registry")
        let image = try Fixtures.busybox(in: scratch.path + "/img")
        try registry.push(image.ociDirectory, as: "test/busybox:1.0")
        let ref = "\(registry.host)/test/busybox:1.0"

        let record = try await store.pull(ref, options: insecure(registry))
        #expect(record.id.description == image.configDigest)
        #expect(record.repoTags == [ref])
        #expect(record.repoDigests == ["\(registry.host)/test/busybox@\(image.manifestDigest)"])
        let resolved = try store.resolve(ref)
        #expect(resolved.config.cmd == ["/bin/sh"])
        let fs = try #require(resolved.lowerDirectories.first)
        #expect(try FileSystem.readBytes(fs + "/bin/busybox") == FileSystem.readBytes("/bin/busybox"))

        try store.remove(ref)
        let byDigest = "\(registry.host)/test/busybox@\(image.manifestDigest)"
        let pinned = try await store.pull(byDigest, options: insecure(registry))
        #expect(pinned.id == record.id)
        #expect(pinned.repoTags.isEmpty)
        #expect(pinned.repoDigests == [byDigest])
        #expect(try store.resolve(byDigest).record.id == record.id)
        #expect(treeListing(store.tmpDirectory).isEmpty)
    }

    @Test func plainHTTPOnlyForInsecureRegistriesAndErrorsAreNamed() async throws {
        let registry = try LocalRegistry(in: scratch.path + "/registry")
        let image = try Fixtures.busybox(in: scratch.path + "/img")
        try registry.push(image.ociDirectory, as: "test/busybox:latest")
        // Not marked insecure: https is used (shown against a closed port, so the TLS client
        // does not wait for a plain-HTTP server that never answers its hello).
        let closed = "127.0.0.1:\(try freePort())"
        await #expect {
            try await store.pull("\(closed)/test/busybox", options: PullOptions())
        } throws: { error in
            "\(error)".contains("https://\(closed)/v2/test/busybox/manifests/latest")
        }
        await #expect {
            try await store.pull("\(closed)/test/busybox", options: PullOptions(insecureRegistries: [closed]))
        } throws: { error in
            "\(error)".contains("http://\(closed)/v2/test/busybox/manifests/latest")
        }
        await #expect {
            try await store.pull("\(registry.host)/test/missing:1", options: insecure(registry))
        } throws: { error in
            "\(error)".contains("HTTP 404") && "\(error)".contains("MANIFEST_UNKNOWN")
        }
        #expect(try store.list().isEmpty)
    }

    @Test func basicAuth() async throws {
        let registry = try LocalRegistry(in: scratch.path + "/registry", auth: .basic(user: "alice", password: "s3cret"))
        let image = try Fixtures.busybox(in: scratch.path + "/img")
        try registry.push(image.ociDirectory, as: "private/busybox:latest")
        let ref = "\(registry.host)/private/busybox:latest"
        await #expect {
            try await store.pull(ref, options: insecure(registry))
        } throws: { "\($0)".contains("authentication required") }
        await #expect {
            try await store.pull(ref, options: insecure(registry, credentials: RegistryCredentials(username: "alice", password: "wrong")))
        } throws: { "\($0)".contains("HTTP 401") }
        let record = try await store.pull(ref, options: insecure(registry, credentials: RegistryCredentials(username: "alice", password: "s3cret")))
        #expect(record.id.description == image.configDigest)
    }

    @Test func bearerTokenAuth() async throws {
        let registry = try LocalRegistry(in: scratch.path + "/registry", auth: .token(user: "bob", password: "tok-pass"))
        let image = try Fixtures.busybox(in: scratch.path + "/img")
        try registry.push(image.ociDirectory, as: "team/busybox:v1")
        let ref = "\(registry.host)/team/busybox:v1"
        await #expect {
            try await store.pull(ref, options: insecure(registry))
        } throws: { "\($0)".contains("HTTP 401") }
        let record = try await store.pull(ref, options: insecure(registry, credentials: RegistryCredentials(username: "bob", password: "tok-pass")))
        #expect(record.id.description == image.configDigest)
        // The token service saw our request for the pull scope, with credentials.
        let requests = try FileSystem.readString(registry.directory + "/token-requests.log")
        #expect(requests.contains("repository:team/busybox:pull") && requests.contains("\"authorized\": true"))
    }

    @Test func corruptedBlobIsRefused() async throws {
        let registry = try LocalRegistry(in: scratch.path + "/registry")
        let image = try Fixtures.busybox(in: scratch.path + "/img")
        try registry.push(image.ociDirectory, as: "test/busybox:latest")
        // Flip bytes in the middle of the stored layer blob (same size: only the digest can tell).
        let path = registry.blobDataPath(image.layerDigests[0])
        var bytes = try FileSystem.readBytes(path)
        for i in stride(from: bytes.count / 2, to: bytes.count / 2 + 64, by: 1) { bytes[i] ^= 0xff }
        try FileSystem.write(path, bytes)
        await #expect {
            try await store.pull("\(registry.host)/test/busybox", options: insecure(registry))
        } throws: { error in
            "\(error)".contains("digest mismatch") && "\(error)".contains(image.layerDigests[0])
        }
        #expect(try store.list().isEmpty)
        #expect(try FileSystem.listDirectory(store.layersDirectory).isEmpty)
        #expect(treeListing(store.tmpDirectory).isEmpty)
    }

    @Test func concurrentPullsOfOneImageDownloadOnce() async throws {
        let registry = try LocalRegistry(in: scratch.path + "/registry")
        let image = try Fixtures.busybox(in: scratch.path + "/img")
        try registry.push(image.ociDirectory, as: "test/busybox:latest")
        let store = self.store
        let options = insecure(registry)
        let ids = try await withThrowingTaskGroup(of: Digest.self) { group in
            let ref = "\(registry.host)/test/busybox"
            for _ in 0..<6 { group.addTask { try await store.pull(ref, options: options).id } }
            return try await group.reduce(into: Set<Digest>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        let layerGets = registry.log.components(separatedBy: "\n").filter {
            $0.contains("\"GET /v2/test/busybox/blobs/\(image.layerDigests[0])") && $0.contains(" 200 ")
        }
        #expect(layerGets.count == 1, "six concurrent pulls, one layer download: \(layerGets.count)")
    }

    @Test func imageIndexResolvesToLinuxAmd64() async throws {
        let registry = try LocalRegistry(in: scratch.path + "/registry")
        let image = try Fixtures.busybox(in: scratch.path + "/img", options: ["multiarch": true])
        try registry.push(image.ociDirectory, as: "test/multi:latest", all: true)
        let record = try await store.pull("\(registry.host)/test/multi:latest", options: insecure(registry))
        #expect(record.id.description == image.configDigest, "the amd64 image, not the arm64 one listed first")
        #expect(record.manifestDigest?.description == image.manifestDigest)
        #expect(record.repoDigests == ["\(registry.host)/test/multi@\(image.topDigest)"], "repo digest of the index")
        // The same index in an OCI layout imports to the same image.
        let other = try ImageStore(rootDir: scratch.path + "/other")
        #expect(try other.importArchive(at: image.ociTar).map(\.id) == [record.id])
    }
}
