import Foundation

/// Media types of the OCI image spec and Docker's schema 2, which registries still serve.
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

    static func isIndex(_ type: String?) -> Bool { type == ociIndex || type == dockerManifestList }
    static func isManifest(_ type: String?) -> Bool { type == ociManifest || type == dockerManifest }
}

/// A content descriptor (manifest, config, layer or index entry).
struct Descriptor: Codable {
    var mediaType: String?
    var digest: Digest
    var size: Int64
    var platform: Platform?
    var annotations: [String: String]?
}

struct Platform: Codable {
    var architecture: String
    var os: String
    var variant: String?
}

/// An image manifest (OCI or Docker schema 2: same shape).
struct ImageManifest: Codable {
    var schemaVersion: Int?
    var mediaType: String?
    var config: Descriptor
    var layers: [Descriptor]
}

/// An image index / manifest list (also the `index.json` of an OCI layout).
struct ImageIndex: Codable {
    var schemaVersion: Int?
    var mediaType: String?
    var manifests: [Descriptor]
}

/// Just enough of an unknown document to tell index from manifest.
struct MediaTypeProbe: Codable {
    var mediaType: String?
    var manifests: [Descriptor]?
    var config: Descriptor?
    var schemaVersion: Int?
}

/// The parts of an image's configuration a container runtime needs, parsed once at import.
/// Field meanings follow the OCI image spec (`config.Env`, `config.Entrypoint`, …).
public struct ImageConfig: Sendable, Equatable {
    /// `user`, `uid`, `user:group` or `uid:gid` as the image gives it; nil when unset.
    public var user: String?
    /// `KEY=value` strings.
    public var env: [String]
    public var entrypoint: [String]
    public var cmd: [String]
    public var workingDir: String?
    /// `port/proto` keys, sorted.
    public var exposedPorts: [String]
    public var volumes: [String]
    public var labels: [String: String]
    /// e.g. `SIGTERM`, `9`; nil when unset.
    public var stopSignal: String?
    public var architecture: String
    public var os: String
    /// RFC 3339 creation time as written in the config.
    public var created: String?
    /// Uncompressed layer digests, bottom layer first.
    public var diffIDs: [Digest]
}

extension ImageConfig {
    private struct Document: Decodable {
        struct Config: Decodable {
            var User: String?
            var Env: [String]?
            var Entrypoint: [String]?
            var Cmd: [String]?
            var WorkingDir: String?
            var ExposedPorts: [String: EmptyObject]?
            var Volumes: [String: EmptyObject]?
            var Labels: [String: String]?
            var StopSignal: String?
        }
        struct RootFS: Decodable {
            var type: String
            var diff_ids: [Digest]
        }
        var created: String?
        var architecture: String?
        var os: String?
        var config: Config?
        var rootfs: RootFS
    }

    /// Accepts any JSON value (`{}` in ExposedPorts and Volumes).
    private struct EmptyObject: Decodable {
        init(from decoder: Decoder) throws {}
    }

    /// Parses config JSON; `what` names the document in errors.
    public init(json: [UInt8], what: String) throws {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(json))
        } catch {
            throw ImageError.invalidDocument(what: what, reason: describe(error))
        }
        guard document.rootfs.type == "layers" else {
            throw ImageError.invalidDocument(what: what, reason: "rootfs.type is \"\(document.rootfs.type)\", not \"layers\"")
        }
        let config = document.config
        self.init(
            user: config?.User.flatMap { $0.isEmpty ? nil : $0 },
            env: config?.Env ?? [],
            entrypoint: config?.Entrypoint ?? [],
            cmd: config?.Cmd ?? [],
            workingDir: config?.WorkingDir.flatMap { $0.isEmpty ? nil : $0 },
            exposedPorts: (config?.ExposedPorts?.keys).map { $0.sorted() } ?? [],
            volumes: (config?.Volumes?.keys).map { $0.sorted() } ?? [],
            labels: config?.Labels ?? [:],
            stopSignal: config?.StopSignal.flatMap { $0.isEmpty ? nil : $0 },
            architecture: document.architecture ?? "",
            os: document.os ?? "",
            created: document.created,
            diffIDs: document.rootfs.diff_ids)
    }
}

/// Decodes a JSON document, turning decoding errors into ones that name the document and field.
func decodeDocument<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    } catch let error as ImageError {
        throw ImageError.invalidDocument(what: what, reason: "\(error)")
    } catch {
        throw ImageError.invalidDocument(what: what, reason: describe(error))
    }
}

/// A short, field-naming account of a decoding error.
func describe(_ error: Error) -> String {
    func path(_ codingPath: [CodingKey]) -> String {
        let text = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return text.isEmpty ? "(document)" : String(text.drop(while: { $0 == "." }))
    }
    if let error = error as? ImageError { return error.description }
    guard let error = error as? DecodingError else { return "\(error)" }
    switch error {
    case .keyNotFound(let key, let context): return "missing field \(path(context.codingPath + [key]))"
    case .typeMismatch(_, let context): return "field \(path(context.codingPath)): \(context.debugDescription)"
    case .valueNotFound(_, let context): return "field \(path(context.codingPath)) is null"
    case .dataCorrupted(let context):
        if let underlying = context.underlyingError as? ImageError { return "field \(path(context.codingPath)): \(underlying)" }
        return context.codingPath.isEmpty ? "not valid JSON" : "field \(path(context.codingPath)): \(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}
