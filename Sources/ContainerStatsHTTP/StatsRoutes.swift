import ContainerStats
import Hummingbird

extension Router {
    /// Mounts the kubelet stats endpoints on the agent's router:
    /// `/metrics/cadvisor`, `/metrics/resource`, `/stats/summary`, `/spec`, and `/metrics`
    /// when `agentMetrics` is given. Every handler formats the in-memory snapshot only.
    public func addStatsRoutes(_ endpoints: StatsEndpoints, agentMetrics: AgentMetrics? = nil) {
        get("/metrics/cadvisor") { _, _ in endpoints.cadvisorMetrics().hummingbirdResponse }
        get("/metrics/resource") { _, _ in endpoints.resourceMetrics().hummingbirdResponse }
        get("/stats/summary") { request, _ in
            let only = request.uri.queryParameters.get("only_cpu_and_memory") == "true"
            return endpoints.summary(onlyCPUAndMemory: only).hummingbirdResponse
        }
        get("/spec") { _, _ in endpoints.spec().hummingbirdResponse }
        if let agentMetrics {
            get("/metrics") { _, _ in
                StatsEndpoints.Response(contentType: AgentMetrics.contentType, body: agentMetrics.render()).hummingbirdResponse
            }
        }
    }
}

extension StatsEndpoints.Response {
    /// The same response as a Hummingbird `Response`.
    public var hummingbirdResponse: Response {
        Response(status: HTTPResponse.Status(code: status), headers: [.contentType: contentType],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
