import Logging
import NIOCore

/// Proxies pod `log`, `exec`, `attach` and `portforward` to the kubelet of the pod's node.
struct KubeletProxy: Sendable {
    init(caPEM: String, clientCertPEM: String, clientKeyPEM: String, group: EventLoopGroup, logger: Logger) throws {}

    func proxy(info: RequestInfo, request: HTTPRequest, registry: Registry) async throws -> HTTPResponse {
        throw APIError.serviceUnavailable("kubelet proxy not implemented yet")
    }
}
