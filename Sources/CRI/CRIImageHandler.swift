import CRIAPI
import Foundation
import GRPCCore
import Images
import LinuxPrimitives
import Logging

/// CRI ImageService over the image store: the image id (config digest) is what PullImage
/// returns as `image_ref` and what every Image.id, Container.image_id and ContainerStatus
/// image_id carry, so kubelet sees one name per image.
struct CRIImageHandler: Runtime_V1_ImageService.SimpleServiceProtocol {
    let store: ImageStore
    let settings: CRISettings
    let logger: Logger

    func listImages(request: Runtime_V1_ListImagesRequest, context: ServerContext) async throws -> Runtime_V1_ListImagesResponse {
        var r = Runtime_V1_ListImagesResponse()
        r.images = try await filtered(request.hasFilter ? request.filter.image.image : "")
        return r
    }

    func streamImages(request: Runtime_V1_StreamImagesRequest, response: RPCWriter<Runtime_V1_StreamImagesResponse>,
                      context: ServerContext) async throws {
        for chunk in CRIRuntimeHandler.chunks(try await filtered(request.hasFilter ? request.filter.image.image : ""), size: 500) {
            var r = Runtime_V1_StreamImagesResponse()
            r.images = chunk
            try await response.write(r)
        }
    }

    func filtered(_ reference: String) async throws -> [Runtime_V1_Image] {
        try await CRIErrors.mapping("ListImages") {
            if !reference.isEmpty {
                guard let record = try? store.record(reference) else { return [] }
                return [image(record)]
            }
            return try store.list().map(image)
        }
    }

    func imageStatus(request: Runtime_V1_ImageStatusRequest, context: ServerContext) async throws -> Runtime_V1_ImageStatusResponse {
        guard request.hasImage, !request.image.image.isEmpty else { throw CRIErrors.invalid("image.image is required") }
        var r = Runtime_V1_ImageStatusResponse()
        // An image that is not here is an empty answer, not an error (kubelet then pulls it).
        guard let resolved = try? store.resolve(request.image.image) else { return r }
        r.image = image(resolved.record)
        if request.verbose {
            let c = resolved.config
            r.info["info"] = CRIRuntimeHandler.json([
                "imageRef": resolved.record.imageRef, "chainLayers": resolved.record.layers.map(\.description),
                "config": ["User": c.user ?? "", "Env": c.env, "Entrypoint": c.entrypoint, "Cmd": c.cmd, "WorkingDir": c.workingDir ?? "",
                           "StopSignal": c.stopSignal ?? "", "Labels": c.labels],
                "architecture": c.architecture, "os": c.os, "created": c.created ?? "",
            ])
        }
        return r
    }

    func pullImage(request: Runtime_V1_PullImageRequest, context: ServerContext) async throws -> Runtime_V1_PullImageResponse {
        guard request.hasImage, !request.image.image.isEmpty else { throw CRIErrors.invalid("image.image is required") }
        let reference = request.image.image
        let options = PullOptions(credentials: try credentials(request.auth), insecureRegistries: settings.insecureRegistries)
        let started = ContinuousClock.now
        let record = try await CRIErrors.mapping("PullImage \(reference)") { try await store.pull(reference, options: options) }
        logger.info("pulled \(reference) as \(record.id) in \(ContinuousClock.now - started)")
        var r = Runtime_V1_PullImageResponse()
        r.imageRef = record.id.description
        return r
    }

    /// CRI AuthConfig: username/password, `auth` (base64 of user:password), or a registry token.
    func credentials(_ auth: Runtime_V1_AuthConfig) throws -> RegistryCredentials? {
        if !auth.registryToken.isEmpty { return RegistryCredentials(registryToken: auth.registryToken) }
        if !auth.username.isEmpty { return RegistryCredentials(username: auth.username, password: auth.password) }
        if !auth.auth.isEmpty {
            guard let data = Data(base64Encoded: auth.auth), let text = String(data: data, encoding: .utf8),
                  let colon = text.firstIndex(of: ":") else {
                throw CRIErrors.invalid("auth.auth is not base64 of \"user:password\"")
            }
            return RegistryCredentials(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        }
        if !auth.identityToken.isEmpty {
            throw CRIErrors.invalid("auth.identity_token (OAuth2 refresh tokens) is not supported; pass a registry_token or username/password")
        }
        return nil
    }

    func removeImage(request: Runtime_V1_RemoveImageRequest, context: ServerContext) async throws -> Runtime_V1_RemoveImageResponse {
        guard request.hasImage, !request.image.image.isEmpty else { throw CRIErrors.invalid("image.image is required") }
        do {
            _ = try store.remove(request.image.image)
        } catch ImageError.notFound {
            // Idempotent: already gone.
        } catch {
            throw CRIErrors.rpcError(error, "RemoveImage \(request.image.image)")
        }
        return Runtime_V1_RemoveImageResponse()
    }

    func imageFsInfo(request: Runtime_V1_ImageFsInfoRequest, context: ServerContext) async throws -> Runtime_V1_ImageFsInfoResponse {
        let directory = store.directory
        let usage = try await DetachedThread.run { () -> DirectoryUsageWalker.Usage in
            let walker = try DirectoryUsageWalker(root: directory)
            return walker.finish()
        }
        var fs = Runtime_V1_FilesystemUsage()
        fs.timestamp = Int64(Date().timeIntervalSince1970 * 1e9)
        fs.fsID.mountpoint = directory
        fs.usedBytes = CRIStats.value(usage.bytes)
        fs.inodesUsed = CRIStats.value(usage.inodes)
        var r = Runtime_V1_ImageFsInfoResponse()
        r.imageFilesystems = [fs]
        return r
    }

    func image(_ record: ImageRecord) -> Runtime_V1_Image {
        var i = Runtime_V1_Image()
        i.id = record.id.description
        i.repoTags = record.repoTags
        i.repoDigests = record.repoDigests
        i.size = UInt64(max(1, record.size))
        i.spec.image = record.id.description
        if let config = try? store.resolve(record.id.description).config, let user = config.user, !user.isEmpty {
            let name = String(user.split(separator: ":", maxSplits: 1).first ?? "")
            if let uid = Int64(name) { i.uid.value = uid } else { i.username = name }
        }
        return i
    }
}
