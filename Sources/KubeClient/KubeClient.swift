import AsyncHTTPClient
import Foundation
import KubeAPI
import NIOCore
import NIOHTTP1
import NIOSSL

/// An API server answered with an error: the HTTP code and the `Status` it carried.
public struct KubeAPIError: Error, CustomStringConvertible, Sendable {
    public let code: Int
    public let reason: String
    public let message: String

    public var description: String { "API server: \(code) \(reason): \(message)" }
    public var isNotFound: Bool { code == 404 }
    public var isConflict: Bool { code == 409 }
    public var isGone: Bool { code == 410 }
    public var isAlreadyExists: Bool { code == 409 && reason == "AlreadyExists" }
}

/// A watch event (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`) with its object.
public struct WatchEvent: Sendable {
    public let type: String
    public let object: JSONValue
}

/// A small Kubernetes REST client over AsyncHTTPClient: JSON in and out, list with selectors,
/// watch as a stream of events, merge/strategic/JSON patches. Authenticates with the
/// kubeconfig's client certificate or bearer token and trusts only its CA.
public final class KubeClient: Sendable {
    public let config: KubeConfig
    let http: HTTPClient

    public init(config: KubeConfig) throws {
        self.config = config
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = config.certificateAuthority { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca)) }
        if config.insecureSkipTLSVerify { tls.certificateVerification = .none }
        if let cert = config.clientCertificate, let key = config.clientKey {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(cert).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async { try? await http.shutdown() }

    func request(_ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: JSONValue? = nil,
                 contentType: String = "application/json") throws -> HTTPClientRequest {
        var components = URLComponents(string: config.server + path)
        if !query.isEmpty { components?.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) } }
        guard let url = components?.string else { throw KubeAPIError(code: 0, reason: "BadRequest", message: "invalid path \(path)") }
        var req = HTTPClientRequest(url: url)
        req.method = method
        req.headers.add(name: "Accept", value: "application/json")
        req.headers.add(name: "User-Agent", value: "swiftlet/0.1")
        if let token = config.token { req.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            req.headers.add(name: "Content-Type", value: contentType)
            req.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        return req
    }

    /// One request, the whole JSON answer; non-2xx answers become `KubeAPIError`.
    public func send(_ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: JSONValue? = nil,
                     contentType: String = "application/json", timeoutSeconds: Int64 = 30) async throws -> JSONValue {
        let response = try await http.execute(try request(method, path, query: query, body: body, contentType: contentType),
                                              timeout: .seconds(timeoutSeconds))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        let value = bytes.readableBytes == 0 ? JSONValue.null : (try? JSONValue.parse(bytes.readableBytesView)) ?? .null
        guard (200..<300).contains(Int(response.status.code)) else {
            throw KubeAPIError(code: Int(response.status.code), reason: value["reason"]?.stringValue ?? response.status.reasonPhrase,
                               message: value["message"]?.stringValue ?? String(buffer: bytes))
        }
        return value
    }

    public func get(_ path: String) async throws -> JSONValue { try await send(.GET, path) }
    public func create(_ path: String, _ body: JSONValue) async throws -> JSONValue { try await send(.POST, path, body: body) }
    public func update(_ path: String, _ body: JSONValue) async throws -> JSONValue { try await send(.PUT, path, body: body) }
    public func delete(_ path: String, body: JSONValue? = nil) async throws -> JSONValue { try await send(.DELETE, path, body: body) }

    /// `application/merge-patch+json` (or strategic-merge / json-patch by `contentType`).
    public func patch(_ path: String, _ body: JSONValue, contentType: String = "application/merge-patch+json") async throws -> JSONValue {
        try await send(.PATCH, path, body: body, contentType: contentType)
    }

    /// A list: its items and the resourceVersion to watch from.
    public func list(_ path: String, labelSelector: String? = nil, fieldSelector: String? = nil) async throws -> (items: [JSONValue], resourceVersion: String) {
        var query: [String: String] = [:]
        if let labelSelector { query["labelSelector"] = labelSelector }
        if let fieldSelector { query["fieldSelector"] = fieldSelector }
        let value = try await send(.GET, path, query: query, timeoutSeconds: 60)
        return (value["items"]?.arrayValue ?? [], value["metadata"]?["resourceVersion"]?.stringValue ?? "")
    }

    /// Watches from `resourceVersion` until the server ends the stream (or the task is
    /// cancelled). A `410 Gone` arrives as a thrown `KubeAPIError` with `isGone`.
    public func watch(_ path: String, resourceVersion: String, fieldSelector: String? = nil, labelSelector: String? = nil,
                      timeoutSeconds: Int = 300) -> AsyncThrowingStream<WatchEvent, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var query = ["watch": "true", "resourceVersion": resourceVersion, "allowWatchBookmarks": "true",
                                 "timeoutSeconds": String(timeoutSeconds)]
                    if let fieldSelector { query["fieldSelector"] = fieldSelector }
                    if let labelSelector { query["labelSelector"] = labelSelector }
                    let response = try await http.execute(try request(.GET, path, query: query), timeout: .seconds(Int64(timeoutSeconds) + 30))
                    guard response.status.code == 200 else {
                        let bytes = try await response.body.collect(upTo: 1 << 20)
                        let value = (try? JSONValue.parse(bytes.readableBytesView)) ?? .null
                        throw KubeAPIError(code: Int(response.status.code), reason: value["reason"]?.stringValue ?? "",
                                           message: value["message"]?.stringValue ?? String(buffer: bytes))
                    }
                    var pending: [UInt8] = []
                    for try await chunk in response.body {
                        pending.append(contentsOf: chunk.readableBytesView)
                        while let newline = pending.firstIndex(of: 0x0A) {
                            let line = Array(pending[..<newline])
                            pending.removeSubrange(...newline)
                            guard !line.isEmpty, let event = try? JSONValue.parse(line) else { continue }
                            let type = event["type"]?.stringValue ?? ""
                            let object = event["object"] ?? .null
                            if type == "ERROR" {
                                throw KubeAPIError(code: Int(object["code"]?.intValue ?? 500), reason: object["reason"]?.stringValue ?? "",
                                                   message: object["message"]?.stringValue ?? "")
                            }
                            continuation.yield(WatchEvent(type: type, object: object))
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

extension JSONValue {
    /// Decodes a typed object from this JSON value.
    public func decoded<T: Decodable>(as type: T.Type) throws -> T { try Manifest.decode(type, from: self) }

    /// Encodes a typed object into JSON.
    public static func encoding<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONValue.parse(JSONEncoder().encode(value))
    }
}
