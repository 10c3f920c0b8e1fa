import Foundation
import Logging

/// kube-controller-manager's tokencleaner: bootstrap token Secrets past their `expiration` are
/// deleted (the authenticator already refuses them; this keeps kube-system tidy). Checked on
/// every change of a kube-system Secret and at every resync.
struct TokenCleaner: Controller {
    let name = "token-cleaner"
    let watches = [ResourceRegistry.secrets.storageKey]
    let registry: Registry
    let logger: Logger

    func keys(for e: StoreEvent) async -> [String] {
        e.type != .deleted && e.key.namespace == BootstrapToken.namespace && e.key.name.hasPrefix("bootstrap-token-") ? [e.key.name] : []
    }

    func resyncKeys() async throws -> [String] {
        try registry.list(ResourceRegistry.secrets, namespace: BootstrapToken.namespace).map(\.name).filter { $0.hasPrefix("bootstrap-token-") }
    }

    func sync(_ key: String) async throws { try reconcile(key) }

    func reconcile(_ key: String) throws {
        guard let secret = try registry.getIfPresent(ResourceRegistry.secrets, namespace: BootstrapToken.namespace, name: key),
              Self.isExpired(secret, now: registry.clock()), secret.deletionTimestamp == nil
        else { return }
        do {
            _ = try registry.delete(ResourceRegistry.secrets, namespace: BootstrapToken.namespace, name: key,
                                    options: DeleteOptions(), context: .controllers)
            logger.info("deleted expired bootstrap token secret \(BootstrapToken.namespace)/\(key)")
        } catch let e as APIError where e.code == 404 {
            return
        }
    }

    /// A bootstrap token Secret whose `expiration` has passed (none: it never expires).
    static func isExpired(_ secret: JSON, now: Date) -> Bool {
        guard secret["type"]?.string == BootstrapToken.secretType,
              let b64 = secret["data"]?["expiration"]?.string, let data = Data(base64Encoded: b64),
              let expiration = Timestamp.parse(String(decoding: data, as: UTF8.self))
        else { return false }
        return expiration <= now
    }
}
