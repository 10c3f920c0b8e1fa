import KubeAPI

/// A service port as EndpointSlices name it: port name and protocol.
struct PortKey: Sendable, Hashable {
    let name: String
    let proto: ServiceProtocol
}

/// The Services and EndpointSlices the proxier knows, validated, indexed by service, with the
/// set of services touched since the last sync.
struct ServiceInventory {
    struct SliceKey: Hashable { let namespace: String; let name: String }

    private(set) var services: [ServiceName: [ServicePortInfo]] = [:]
    private(set) var slices: [SliceKey: SliceInfo] = [:]
    private var slicesByService: [ServiceName: Set<SliceKey>] = [:]
    private var sliceEndpoints: [SliceKey: [PortKey: [EndpointInfo]]] = [:]
    var dirty: Set<ServiceName> = []

    /// Records a Service; a malformed one is dropped (as if deleted) and its error returned.
    /// `changed` says whether anything the proxy uses differs from before.
    mutating func update(_ service: Service, changed: inout Bool) -> InvalidObjectError? {
        let name = ServiceName(namespace: service.metadata.namespace ?? "default", name: service.metadata.name ?? "")
        do {
            let ports = try ServicePortInfo.ports(of: service)
            if services[name] != ports { dirty.insert(name); changed = true }
            services[name] = ports
            return nil
        } catch let error as InvalidObjectError {
            changed = services[name] != nil
            delete(service: name)
            return error
        } catch {
            changed = services[name] != nil
            delete(service: name)
            return InvalidObjectError(kind: "Service", object: name.description, field: "", message: "\(error)")
        }
    }

    mutating func delete(service name: ServiceName) {
        if services.removeValue(forKey: name) != nil { dirty.insert(name) }
    }

    mutating func update(_ slice: EndpointSlice, changed: inout Bool) -> InvalidObjectError? {
        let key = SliceKey(namespace: slice.metadata.namespace ?? "default", name: slice.metadata.name ?? "")
        do {
            guard let info = try SliceInfo.from(slice) else {
                changed = slices[key] != nil
                delete(slice: key)
                return nil
            }
            if slices[key] != info {
                changed = true
                if let old = slices[key] { dirty.insert(old.serviceName); slicesByService[old.serviceName]?.remove(key) }
                slices[key] = info
                sliceEndpoints[key] = Self.endpointsByPort(info)
                slicesByService[info.serviceName, default: []].insert(key)
                dirty.insert(info.serviceName)
            }
            return nil
        } catch let error as InvalidObjectError {
            changed = slices[key] != nil
            delete(slice: key)
            return error
        } catch {
            changed = slices[key] != nil
            delete(slice: key)
            return InvalidObjectError(kind: "EndpointSlice", object: "\(key.namespace)/\(key.name)", field: "", message: "\(error)")
        }
    }

    mutating func delete(slice key: SliceKey) {
        guard let old = slices.removeValue(forKey: key) else { return }
        sliceEndpoints[key] = nil
        slicesByService[old.serviceName]?.remove(key)
        if slicesByService[old.serviceName]?.isEmpty == true { slicesByService[old.serviceName] = nil }
        dirty.insert(old.serviceName)
    }

    var allNames: Set<ServiceName> { Set(services.keys).union(slicesByService.keys) }

    /// Endpoints per family and service port, merged over the service's slices.
    func endpoints(of name: ServiceName) -> [IPFamily: [PortKey: [EndpointInfo]]] {
        guard services[name] != nil, let keys = slicesByService[name] else { return [:] }
        // The common case, one slice: its endpoints as prepared when it arrived.
        if keys.count == 1, let key = keys.first, let slice = slices[key], let byPort = sliceEndpoints[key] {
            return [slice.family: byPort]
        }
        var out: [IPFamily: [PortKey: [EndpointInfo]]] = [:]
        for key in keys {
            guard let slice = slices[key], let byPort = sliceEndpoints[key] else { continue }
            out[slice.family, default: [:]].merge(byPort) { $0 + $1 }
        }
        for (family, byPort) in out {
            for (port, eps) in byPort { out[family]?[port] = Self.uniqueSorted(eps) }
        }
        return out
    }

    /// One endpoint per ip:port (several slices may list the same one, a ready copy winning),
    /// in a stable order.
    static func uniqueSorted(_ eps: [EndpointInfo]) -> [EndpointInfo] {
        var unique: [EndpointInfo] = []
        unique.reserveCapacity(eps.count)
        for ep in eps.sorted(by: { ($0.ip, $0.port, $0.ready ? 0 : 1) < ($1.ip, $1.port, $1.ready ? 0 : 1) }) {
            if let last = unique.last, last.ip == ep.ip, last.port == ep.port { continue }
            unique.append(ep)
        }
        return unique
    }

    /// A slice's endpoints per port, prepared once when the slice arrives (not at every sync).
    static func endpointsByPort(_ slice: SliceInfo) -> [PortKey: [EndpointInfo]] {
        var out: [PortKey: [EndpointInfo]] = [:]
        for port in slice.ports {
            let key = PortKey(name: port.name, proto: port.proto)
            if out[key] == nil { out[key] = uniqueSorted(slice.endpoints(forPortName: port.name, proto: port.proto)) }
        }
        return out
    }
}
