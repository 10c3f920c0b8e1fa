import CRIAPI
import Foundation
import GRPCCore
import Testing

/// The CRI validation suite's "Image Manager" group, pulling from a real registry on loopback.
@Suite("CRI image manager (RootTests)", .enabled(if: CRIHarness.canRun && TestRegistry.toolsInstalled,
                                                  "needs root, busybox, docker-registry, skopeo and htpasswd"))
struct ImageManagerRootTests {
    func pull(_ im: ImageClient, _ image: String, user: String = "", password: String = "", auth: String = "") async throws -> String {
        var r = Runtime_V1_PullImageRequest()
        r.image.image = image
        r.auth.username = user
        r.auth.password = password
        r.auth.auth = auth
        return try await im.pullImage(r).imageRef
    }

    func status(_ im: ImageClient, _ image: String) async throws -> Runtime_V1_ImageStatusResponse {
        var r = Runtime_V1_ImageStatusRequest()
        r.image.image = image
        r.verbose = true
        return try await im.imageStatus(r)
    }

    @Test func pullByTagAndDigestListStatusRemove() async throws {
        let h = try CRIHarness()
        do {
            let registry = try TestRegistry(harness: h)
            defer { registry.stop() }
            try registry.push(as: "lib/busybox:v1")
            try await h.start(extra: ["--insecure-registry", registry.host])
            try await h.withClients { rt, im in
                let tagged = "\(registry.host)/lib/busybox:v1"
                #expect(try await status(im, tagged).hasImage == false, "absent: an empty answer, not an error")
                let ref = try await pull(im, tagged)
                #expect(ref == h.imageSummary["configDigest"] as? String, "image_ref is the image id")
                let image = try await status(im, tagged)
                #expect(image.image.id == ref && image.image.repoTags.contains(tagged) && image.image.size > 0)
                #expect(image.image.repoDigests.contains { $0.hasSuffix("@" + (h.imageSummary["manifestDigest"] as? String ?? "?")) })
                #expect(image.info["info"]?.contains("\"os\":\"linux\"") == true)
                let digest = h.imageSummary["manifestDigest"] as? String ?? ""
                #expect(try await pull(im, "\(registry.host)/lib/busybox@\(digest)") == ref, "by digest: the same image")

                var list = Runtime_V1_ListImagesRequest()
                #expect(try await im.listImages(list).images.contains { $0.id == ref })
                list.filter.image.image = tagged
                #expect(try await im.listImages(list).images.map(\.id) == [ref])

                // The pulled image runs.
                let pod = CRI.podConfig("pulled", harness: h)
                let sandbox = try await CRI.runPod(rt, pod)
                var config = CRI.containerConfig("c", command: CRI.sleeper)
                config.image.image = ref
                let id = try await CRI.run(rt, sandbox, pod, config)
                #expect(try await CRI.status(rt, id).status.imageID == ref)
                #expect(try await CRI.sh(rt, id, "cat /www/index.html") == "hello from the pod")

                let fs = try await im.imageFsInfo(Runtime_V1_ImageFsInfoRequest()).imageFilesystems
                #expect(fs.first?.usedBytes.value ?? 0 > 500_000 && fs.first?.inodesUsed.value ?? 0 > 10)

                var remove = Runtime_V1_RemoveImageRequest()
                remove.image.image = tagged
                for _ in 0..<2 { _ = try await im.removeImage(remove) }
                #expect(try await status(im, ref).hasImage == false)
                #expect(try await CRI.sh(rt, id, "echo still running") == "still running", "a running container keeps its layers")
                #expect(await CRI.code { try await pull(im, "\(registry.host)/lib/missing:v1") } == .notFound)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func pullWithBasicAuthFromTheRequest() async throws {
        let h = try CRIHarness()
        do {
            let registry = try TestRegistry(harness: h, credentials: ("kube", "s3cret"))
            defer { registry.stop() }
            try registry.push(as: "private/busybox:v1")
            try await h.start(extra: ["--insecure-registry", registry.host])
            try await h.withClients { _, im in
                let image = "\(registry.host)/private/busybox:v1"
                #expect(await CRI.code { try await pull(im, image) } != nil, "anonymous pull is refused")
                #expect(await CRI.code { try await pull(im, image, user: "kube", password: "wrong") } != nil)
                let ref = try await pull(im, image, user: "kube", password: "s3cret")
                #expect(ref.hasPrefix("sha256:"))
                var remove = Runtime_V1_RemoveImageRequest()
                remove.image.image = ref
                _ = try await im.removeImage(remove)
                let token = Data("kube:s3cret".utf8).base64EncodedString()
                #expect(try await pull(im, image, auth: token) == ref, "the base64 `auth` form")
                #expect(await CRI.code { try await pull(im, image, auth: "not base64!") } == .invalidArgument)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    @Test func corruptedBlobIsRefusedAndNothingIsStored() async throws {
        let h = try CRIHarness()
        do {
            let registry = try TestRegistry(harness: h)
            defer { registry.stop() }
            try registry.push(as: "lib/bad:v1")
            let layer = try #require((h.imageSummary["layerDigests"] as? [String])?.first)
            let path = registry.blobDataPath(layer)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            for i in (bytes.count / 2)..<(bytes.count / 2 + 32) { bytes[i] ^= 0xff }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            try await h.start(extra: ["--insecure-registry", registry.host])
            try await h.withClients { _, im in
                // The imported copy shares the layers; without it they must come from the registry.
                var local = Runtime_V1_RemoveImageRequest()
                local.image.image = CRIHarness.image
                _ = try await im.removeImage(local)
                let before = try await im.listImages(Runtime_V1_ListImagesRequest()).images.count
                do {
                    _ = try await pull(im, "\(registry.host)/lib/bad:v1")
                    Issue.record("a corrupted layer was accepted")
                } catch let error as RPCError {
                    #expect(error.message.contains("digest mismatch") && error.message.contains(layer))
                }
                #expect(try await im.listImages(Runtime_V1_ListImagesRequest()).images.count == before)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }
}
