import Foundation
import KubeAPI
import Logging

/// List, then watch from the list's resourceVersion, forever: relists on 410 Gone and backs off
/// (1 s doubling to 30 s) while the API server is unreachable. Each (re)list delivers the full
/// set, each watch event one change — the two things every consumer needs.
public struct Informer: Sendable {
    public enum Update: Sendable {
        /// Everything that exists now (after a list).
        case snapshot([JSONValue])
        case added(JSONValue)
        case modified(JSONValue)
        case deleted(JSONValue)
    }

    let client: KubeClient
    let path: String
    let fieldSelector: String?
    let labelSelector: String?
    let logger: Logger

    public init(client: KubeClient, path: String, fieldSelector: String? = nil, labelSelector: String? = nil, logger: Logger) {
        self.client = client
        self.path = path
        self.fieldSelector = fieldSelector
        self.labelSelector = labelSelector
        self.logger = logger
    }

    public func run(_ handle: @Sendable (Update) async -> Void) async {
        var backoff: Double = 1
        while !Task.isCancelled {
            do {
                let (items, version) = try await client.list(path, labelSelector: labelSelector, fieldSelector: fieldSelector)
                await handle(.snapshot(items))
                backoff = 1
                var rv = version
                while !Task.isCancelled {
                    for try await event in client.watch(path, resourceVersion: rv, fieldSelector: fieldSelector, labelSelector: labelSelector) {
                        if let v = event.object["metadata"]?["resourceVersion"]?.stringValue { rv = v }
                        switch event.type {
                        case "ADDED": await handle(.added(event.object))
                        case "MODIFIED": await handle(.modified(event.object))
                        case "DELETED": await handle(.deleted(event.object))
                        default: break
                        }
                    }
                }
            } catch let error as KubeAPIError where error.isGone {
                logger.debug("watch of \(path) expired; relisting")
            } catch {
                if Task.isCancelled { return }
                logger.warning("list/watch \(path): \(error); retrying in \(Int(backoff))s")
                try? await Task.sleep(nanoseconds: UInt64(backoff * 1e9))
                backoff = min(30, backoff * 2)
            }
        }
    }
}
