/// The HTTP-facing side of the stats module as plain functions returning status, content type
/// and body, so any server can mount them (ContainerStatsHTTP does it for Hummingbird).
public struct StatsEndpoints: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        public init(status: Int = 200, contentType: String, body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    private let store: SnapshotStore
    private let machine: MachineInfo

    init(store: SnapshotStore, machine: MachineInfo) {
        self.store = store
        self.machine = machine
    }

    private static let notReady = Response(status: 503, contentType: "text/plain; charset=utf-8",
                                           body: Array("stats not collected yet: the first housekeeping round has not finished\n".utf8))

    /// `GET /metrics/cadvisor`
    public func cadvisorMetrics() -> Response {
        guard let body = store.cadvisorBody() else { return Self.notReady }
        return Response(contentType: CadvisorMetrics.contentType, body: body)
    }

    /// `GET /metrics/resource`
    public func resourceMetrics() -> Response {
        guard let snapshot = store.latest else { return Self.notReady }
        return Response(contentType: ResourceMetrics.contentType, body: ResourceMetrics.render(snapshot))
    }

    /// `GET /stats/summary[?only_cpu_and_memory=true]`
    public func summary(onlyCPUAndMemory: Bool = false) -> Response {
        guard let snapshot = store.latest else { return Self.notReady }
        return Response(contentType: SummaryAPI.contentType, body: SummaryAPI.render(snapshot, onlyCPUAndMemory: onlyCPUAndMemory))
    }

    /// `GET /spec` (and `/spec/`)
    public func spec() -> Response {
        Response(contentType: MachineSpec.contentType, body: MachineSpec.render(machine))
    }
}
