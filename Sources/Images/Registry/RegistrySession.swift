import AsyncHTTPClient
import Foundation
import LinuxPrimitives
import NIOCore
import NIOHTTP1

/// Credentials for one registry, as CRI's `AuthConfig` carries them.
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String?
    public var password: String?
    /// A bearer token to send as is (CRI `registry_token`).
    public var registryToken: String?

    public init(username: String? = nil, password: String? = nil, registryToken: String? = nil) {
        self.username = username
        self.password = password
        self.registryToken = registryToken
    }

    var basicHeader: String? {
        guard let username, let password else { return nil }
        return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// How to pull: credentials for the image's registry and which registries may be spoken to
/// over plain `http` (everything else is `https`, as containerd does by default).
public struct PullOptions: Sendable {
    public var credentials: RegistryCredentials?
    /// `host:port` (or `host`) entries of registries reachable only over plain HTTP.
    public var insecureRegistries: Set<String>

    public init(credentials: RegistryCredentials? = nil, insecureRegistries: Set<String> = []) {
        self.credentials = credentials
        self.insecureRegistries = insecureRegistries
    }
}

/// The HTTP client for all registry traffic of the process (immutable, never shut down, like
/// `HTTPClient.shared`), configured so that a registry that refuses connections fails the
/// pull at once instead of being retried until the request deadline, and a stalled
/// connection fails after two minutes without data.
let registryHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration(
        certificateVerification: .fullVerification,
        redirectConfiguration: .follow(max: 10, allowCycles: false),
        timeout: HTTPClient.Configuration.Timeout(connect: .seconds(15), read: .seconds(120)))
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
}()

/// The OCI distribution API v2 for one repository, with the WWW-Authenticate flow: a 401
/// answers with `Basic` (we retry with the caller's credentials) or `Bearer` (we get a token
/// from the realm for the challenge's service and scope, then retry). Tokens are reused for
/// every request of the pull. An actor: layer downloads run concurrently and share the token.
actor RegistrySession {
    let reference: ImageReference
    let baseURL: String
    private let client: HTTPClient
    private let credentials: RegistryCredentials?
    private let insecure: Bool
    private var authorization: String?

    init(reference: ImageReference, options: PullOptions, client: HTTPClient = registryHTTPClient) {
        self.reference = reference
        self.client = client
        self.credentials = options.credentials
        insecure = options.insecureRegistries.contains(reference.domain)
            || options.insecureRegistries.contains(reference.registryHost)
        baseURL = (insecure ? "http://" : "https://") + reference.registryHost + "/v2/" + reference.path
        authorization = options.credentials?.registryToken.map { "Bearer " + $0 }
    }

    static let manifestTypes = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest]

    /// GETs a manifest by tag or digest and verifies its digest (against the digest asked
    /// for, else against the registry's `Docker-Content-Digest`).
    func manifest(_ tagOrDigest: String) async throws -> (bytes: [UInt8], mediaType: String?, digest: Digest) {
        let url = baseURL + "/manifests/" + tagOrDigest
        let response = try await get(url, accept: Self.manifestTypes, timeout: .seconds(60))
        try await expectOK(response, url: url)
        let body = try await response.body.collect(upTo: 4 << 20)
        let bytes = Array(body.readableBytesView)
        let digest = Digest.of(bytes)
        let expected = (try? Digest(parsing: tagOrDigest))
            ?? response.headers.first(name: "Docker-Content-Digest").flatMap { try? Digest(parsing: $0) }
        if let expected, expected != digest {
            throw ImageError.digestMismatch(what: "manifest \(reference.repository):\(tagOrDigest)",
                                            expected: expected.description, actual: digest.description)
        }
        let type = response.headers.first(name: "Content-Type").map { String($0.split(separator: ";")[0]) }
        return (bytes, type, digest)
    }

    /// A small blob (a config) in memory, digest-verified.
    func smallBlob(_ descriptor: Descriptor, limit: Int) async throws -> [UInt8] {
        guard descriptor.size <= Int64(limit) else {
            throw ImageError.invalidDocument(what: "blob \(descriptor.digest)", reason: "\(descriptor.size) bytes is too large")
        }
        let url = baseURL + "/blobs/" + descriptor.digest.description
        let response = try await get(url, accept: [], timeout: .seconds(120))
        try await expectOK(response, url: url)
        let bytes = Array(try await response.body.collect(upTo: limit).readableBytesView)
        let digest = Digest.of(bytes)
        guard digest == descriptor.digest else {
            throw ImageError.digestMismatch(what: "blob \(descriptor.digest) from \(reference.registryHost)",
                                            expected: descriptor.digest.description, actual: digest.description)
        }
        return bytes
    }

    /// Streams a blob into a new file at `path`, hashing as it goes; a wrong size or digest
    /// (or any error) removes the file, so a partial download is never used.
    func download(_ descriptor: Descriptor, to path: String) async throws {
        let url = baseURL + "/blobs/" + descriptor.digest.description
        let response = try await get(url, accept: [], timeout: .minutes(30))
        try await expectOK(response, url: url)
        let file = try ImageError.wrapping("creating \(path)") {
            try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        }
        do {
            defer { file.close() }
            var hasher = DigestHasher()
            var count: Int64 = 0
            for try await buffer in response.body {
                count += Int64(buffer.readableBytes)
                guard count <= descriptor.size else {
                    throw ImageError.invalidDocument(what: "blob \(descriptor.digest)", reason:
                        "registry sent more than the \(descriptor.size) bytes the manifest declares")
                }
                try buffer.withUnsafeReadableBytes { raw in
                    hasher.update(raw)
                    try file.writeAll(raw)
                }
            }
            guard count == descriptor.size else {
                throw ImageError.corruptData(context: "blob \(descriptor.digest)", reason:
                    "download ended after \(count) of \(descriptor.size) bytes")
            }
            let digest = hasher.finalize()
            guard digest == descriptor.digest else {
                throw ImageError.digestMismatch(what: "blob \(descriptor.digest) from \(reference.registryHost)",
                                                expected: descriptor.digest.description, actual: digest.description)
            }
        } catch {
            try? FileSystem.removeFile(path)
            if let error = error as? ImageError { throw error }
            throw ImageError.context("downloading \(url)", .system("\(error)"))
        }
    }

    // MARK: HTTP and authentication

    private func get(_ url: String, accept: [String], timeout: TimeAmount) async throws -> HTTPClientResponse {
        var retried = false
        while true {
            var request = HTTPClientRequest(url: url)
            if !accept.isEmpty { request.headers.add(name: "Accept", value: accept.joined(separator: ", ")) }
            if let authorization { request.headers.add(name: "Authorization", value: authorization) }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: timeout)
            } catch {
                throw ImageError.registry(url: url, status: 0, message: "\(error)")
            }
            guard response.status == .unauthorized, !retried else { return response }
            _ = try? await response.body.collect(upTo: 1 << 20)
            retried = true
            try await authenticate(response.headers[canonicalForm: "WWW-Authenticate"].map(String.init), url: url)
        }
    }

    private func authenticate(_ headers: [String], url: String) async throws {
        let challenges = headers.flatMap { AuthChallenge.parse($0) }
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }) {
            authorization = "Bearer " + (try await fetchToken(bearer))
        } else if challenges.contains(where: { $0.scheme == "basic" }) {
            guard let basic = credentials?.basicHeader else {
                throw ImageError.registry(url: url, status: 401, message: "authentication required (basic) and no credentials were given")
            }
            guard insecure || url.hasPrefix("https://") else {
                throw ImageError.registry(url: url, status: 401, message: "refusing to send credentials over plain http")
            }
            authorization = basic
        } else {
            throw ImageError.registry(url: url, status: 401, message: "unauthorized, with no usable WWW-Authenticate challenge")
        }
    }

    /// The token endpoint of the bearer flow (distribution's token spec): GET realm with the
    /// challenge's service and scope, with basic credentials if we have them.
    private func fetchToken(_ challenge: AuthChallenge) async throws -> String {
        guard let realm = challenge.parameters["realm"], var components = URLComponents(string: realm),
              let scheme = components.scheme, scheme == "https" || (scheme == "http" && insecure) else {
            throw ImageError.registry(url: baseURL, status: 401, message: "bearer challenge with an unusable realm")
        }
        var query = components.queryItems ?? []
        if let service = challenge.parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        let scope = challenge.parameters["scope"] ?? "repository:\(reference.path):pull"
        query.append(URLQueryItem(name: "scope", value: scope))
        components.queryItems = query
        guard let url = components.string else {
            throw ImageError.registry(url: realm, status: 0, message: "cannot build the token URL")
        }
        var request = HTTPClientRequest(url: url)
        if let basic = credentials?.basicHeader { request.headers.add(name: "Authorization", value: basic) }
        let response: HTTPClientResponse
        do { response = try await client.execute(request, timeout: .seconds(60)) } catch {
            throw ImageError.registry(url: realm, status: 0, message: "\(error)")
        }
        try await expectOK(response, url: realm)
        struct TokenResponse: Decodable {
            var token: String?
            var access_token: String?
        }
        let body = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        let decoded = try decodeDocument(TokenResponse.self, body, what: "token response from \(realm)")
        guard let token = decoded.token ?? decoded.access_token, !token.isEmpty else {
            throw ImageError.registry(url: realm, status: 200, message: "token response without a token")
        }
        return token
    }

    /// Non-200 answers become errors with the registry's own error codes and messages.
    private func expectOK(_ response: HTTPClientResponse, url: String) async throws {
        guard response.status != .ok else { return }
        let body = (try? await response.body.collect(upTo: 64 << 10)).map { Array($0.readableBytesView) } ?? []
        struct Errors: Decodable {
            struct Item: Decodable { var code: String?; var message: String? }
            var errors: [Item]?
        }
        var message = response.status.reasonPhrase
        if let parsed = try? JSONDecoder().decode(Errors.self, from: Data(body)), let items = parsed.errors, !items.isEmpty {
            message = items.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: ": ") }.joined(separator: "; ")
        }
        throw ImageError.registry(url: url, status: Int(response.status.code), message: message)
    }
}
