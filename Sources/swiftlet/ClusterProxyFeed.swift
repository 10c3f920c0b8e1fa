import KubeAPI
import KubeClient
import Logging
import ServiceProxy

/// The in-process kube-proxy: Services and EndpointSlices from the API server's list + watch
/// into the Proxier (one informer each; a relist replaces everything the proxier knows of that
/// kind, keeping the other kind's last full set).
struct ClusterProxyFeed: Sendable {
    let client: KubeClient
    let proxier: Proxier
    let logger: Logger

    actor Known {
        var services: [Service] = []
        var slices: [EndpointSlice] = []
        func set(services: [Service]) -> [EndpointSlice] { self.services = services; return slices }
        func set(slices: [EndpointSlice]) -> [Service] { self.slices = slices; return services }
    }

    func run() async {
        let known = Known()
        await withDiscardingTaskGroup { group in
            group.addTask { await proxier.run() }
            group.addTask {
                await Informer(client: client, path: "/api/v1/services", logger: logger).run { update in
                    switch update {
                    case .snapshot(let items):
                        let services = items.compactMap { try? $0.decoded(as: Service.self) }
                        let slices = await known.set(services: services)
                        await proxier.replaceAll(services: services, slices: slices)
                    case .added(let o), .modified(let o):
                        if let s = try? o.decoded(as: Service.self) { await proxier.update(service: s) }
                    case .deleted(let o):
                        await proxier.delete(service: o["metadata"]?["namespace"]?.stringValue ?? "default",
                                             name: o["metadata"]?["name"]?.stringValue ?? "")
                    }
                }
            }
            group.addTask {
                await Informer(client: client, path: "/apis/discovery.k8s.io/v1/endpointslices", logger: logger).run { update in
                    switch update {
                    case .snapshot(let items):
                        let slices = items.compactMap { try? $0.decoded(as: EndpointSlice.self) }
                        let services = await known.set(slices: slices)
                        await proxier.replaceAll(services: services, slices: slices)
                    case .added(let o), .modified(let o):
                        if let s = try? o.decoded(as: EndpointSlice.self) { await proxier.update(slice: s) }
                    case .deleted(let o):
                        await proxier.delete(slice: o["metadata"]?["namespace"]?.stringValue ?? "default",
                                             name: o["metadata"]?["name"]?.stringValue ?? "")
                    }
                }
            }
        }
    }
}
