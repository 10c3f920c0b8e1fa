import CNI
import Logging
import Runtime

/// The runtime's view of pod networking (`Runtime.PodNetwork`), served by CNI. The runtime
/// calls these; errors it sees are `PodNetworkError`s, whose descriptions are written for pod
/// events (`CNI plugin swiftlet-host-local failed (ADD) on network "swiftlet": CNI error 11
/// (try again later): no IP addresses available in range set: 10.88.0.1-10.88.255.254`).
extension CNIPodNetwork: PodNetwork {
    public func setUp(_ request: PodNetworkRequest) async throws -> PodNetworkStatus {
        let attachment = try await attach(request)
        return PodNetworkStatus(ips: attachment.podIPs, interfaceName: attachment.interfaceName)
    }

    public func tearDown(_ request: PodNetworkRequest) async throws {
        try await detach(sandboxID: request.sandboxID, netnsPath: request.netnsPath)
    }

    /// CHECK on re-adoption; a failure is logged with its reason and reported as `false`
    /// (the runtime then rebuilds the sandbox).
    public func check(_ request: PodNetworkRequest) async -> Bool {
        do {
            _ = try await verify(sandboxID: request.sandboxID, netnsPath: request.netnsPath)
            return true
        } catch {
            logger.warning("CNI CHECK of sandbox \(request.sandboxID) failed: \(error)")
            return false
        }
    }

    public func garbageCollect(valid: [PodNetworkRequest]) async {
        do {
            try await garbageCollect(validSandboxIDs: valid.map(\.sandboxID))
        } catch {
            logger.warning("CNI garbage collection skipped: \(error)")
        }
    }

    public func readiness() async -> String? {
        do {
            try await networkStatus()
            return nil
        } catch {
            return error.description
        }
    }
}
