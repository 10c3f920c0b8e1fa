import Foundation
import Logging

/// kube-controller-manager's csrapproving + csrsigning for the node client signer: a request
/// for `CN=system:node:<name>, O=system:nodes` from a bootstrap token (or from that node) is
/// approved, and every approved request for that signer gets a certificate from the cluster CA
/// in `status.certificate`. Other requests wait for an administrator (`kubectl certificate
/// approve`); approved ones for the `kube-apiserver-client` signer are signed as well.
struct CSRController: Controller {
    let name = "csr-controller"
    let watches = [ResourceRegistry.csrs.storageKey]
    let registry: Registry
    let ca: CertificateAuthority
    let logger: Logger

    func keys(for e: StoreEvent) async -> [String] { e.type == .deleted ? [] : [e.key.name] }

    func resyncKeys() async throws -> [String] {
        try registry.list(ResourceRegistry.csrs, namespace: nil).filter { $0["status"]?["certificate"] == nil }.map(\.name)
    }

    func sync(_ key: String) async throws { try reconcile(key) }

    /// Synchronous, as the other controllers' reconcilers (no awaiting needed).
    func reconcile(_ key: String) throws {
        let r = ResourceRegistry.csrs
        guard let csr = try registry.getIfPresent(r, namespace: "", name: key), csr["status"]?["certificate"] == nil,
              NodeClientCSR.signedHere.contains(csr["spec"]?["signerName"]?.string ?? ""),
              !NodeClientCSR.condition(csr, "Denied"), !NodeClientCSR.condition(csr, "Failed")
        else { return }
        let now = registry.now
        if !NodeClientCSR.condition(csr, "Approved") {
            if let why = NodeClientCSR.autoApprovalRefusal(csr) {
                logger.debug("csr \(key) left for an administrator: \(why)")
                return
            }
            _ = try registry.modify(r, namespace: "", name: key, subresource: "approval") { o in
                var conditions = o["status"]?["conditions"]?.array ?? []
                conditions.append(.obj(["type": "Approved", "status": "True", "reason": .string(NodeClientCSR.approvedReason),
                                        "message": "Auto approving kubelet client certificate after SubjectAccessReview.",
                                        "lastUpdateTime": .string(now), "lastTransitionTime": .string(now)]))
                o.set(["status", "conditions"], .array(conditions))
            }
            logger.info("approved certificate signing request \(key) (\(csr["spec"]?["username"]?.string ?? ""))")
        }
        do {
            let pem = try NodeClientCSR.sign(csr, ca: ca)
            _ = try registry.modify(r, namespace: "", name: key, subresource: "status") { o in
                o.set(["status", "certificate"], .string(Data(pem.utf8).base64EncodedString()))
            }
        } catch let e as APIError {
            throw e
        } catch {
            // A request we cannot sign will not get better: say so in a Failed condition.
            _ = try registry.modify(r, namespace: "", name: key, subresource: "status") { o in
                var conditions = o["status"]?["conditions"]?.array ?? []
                conditions.append(.obj(["type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                                        "message": .string("cannot sign: \(error)"), "lastUpdateTime": .string(now)]))
                o.set(["status", "conditions"], .array(conditions))
            }
        }
    }
}
