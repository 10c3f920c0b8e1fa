/// The admission chain run on every write, in upstream's order: defaulting, validation, then
/// the mutating/validating plugins that need server state (Service IP and port allocation,
/// NodeRestriction).
enum Admission {
    static func applyDefaults(_ r: ResourceType, _ obj: inout JSON) {
        switch r.storageKey {
        case "pods": Defaults.pod(&obj)
        case "services": Defaults.service(&obj)
        case "deployments.apps": Defaults.deployment(&obj)
        case "replicasets.apps": Defaults.replicaSet(&obj)
        case "endpointslices.discovery.k8s.io": Defaults.endpointSlice(&obj)
        case "secrets":
            Defaults.setIfAbsent(&obj, "type", "Opaque")
            Defaults.secretStringData(&obj)
        case "events":
            if obj["type"] == nil { obj["type"] = "Normal" }
        default: break
        }
    }

    /// What a Service write allocated, so that a failed write gives it back.
    struct Allocations {
        var ips: [String] = []
        var ports: [Int] = []

        func release(_ a: ServiceAllocator) {
            for ip in ips { a.release(ip: ip) }
            for p in ports { a.release(port: p) }
        }
    }

    /// Assigns a ClusterIP (unless headless or ExternalName) and NodePorts (for NodePort and
    /// LoadBalancer Services), keeping what `old` already held.
    static func allocateService(_ svc: inout JSON, old: JSON?, allocator: ServiceAllocator) throws -> Allocations {
        var got = Allocations()
        do {
            var spec = svc["spec"] ?? .object(JSONObject())
            let type = spec["type"]?.string ?? "ClusterIP"
            if type == "ExternalName" {
                spec["clusterIP"] = nil
                spec["clusterIPs"] = nil
            } else {
                let oldIP = old?["spec"]?["clusterIP"]?.string ?? ""
                var ip = spec["clusterIP"]?.string ?? spec["clusterIPs"]?.array?.first?.string ?? ""
                if ip.isEmpty, !oldIP.isEmpty { ip = oldIP }
                if ip != "None", ip != oldIP || oldIP.isEmpty {
                    ip = try allocator.allocateIP(ip.isEmpty ? nil : ip)
                    got.ips.append(ip)
                }
                spec["clusterIP"] = .string(ip)
                spec["clusterIPs"] = [.string(ip)]
                if ip != "None" || spec["ipFamilies"] == nil {
                    Defaults.setIfAbsent(&spec, "ipFamilies", ["IPv4"])
                }
                Defaults.setIfAbsent(&spec, "ipFamilyPolicy", "SingleStack")
            }
            if case .array(var ports)? = spec["ports"] {
                let oldPorts = old?["spec"]?["ports"]?.array ?? []
                for i in ports.indices {
                    if type == "NodePort" || type == "LoadBalancer" {
                        let requested = ports[i]["nodePort"]?.int.map { Int($0) } ?? 0
                        let kept = oldPorts.first { $0["port"] == ports[i]["port"] && $0["protocol"] == ports[i]["protocol"] }?["nodePort"]?.int
                        if requested == 0, let kept {
                            ports[i]["nodePort"] = .int(kept)
                        } else if requested == 0 || !oldPorts.contains(where: { $0["nodePort"]?.int == Int64(requested) }) {
                            let p = try allocator.allocatePort(requested == 0 ? nil : requested)
                            got.ports.append(p)
                            ports[i]["nodePort"] = .int(Int64(p))
                        }
                    } else {
                        ports[i]["nodePort"] = nil
                    }
                }
                spec["ports"] = .array(ports)
            }
            svc["spec"] = spec
            return got
        } catch let f as ServiceAllocator.Failure {
            got.release(allocator)
            throw APIError.invalid(ResourceRegistry.services, svc.name, [f.cause])
        } catch {
            got.release(allocator)
            throw error
        }
    }

    /// What `old` held that `new` no longer does (released after the write commits).
    static func serviceReleases(old: JSON, new: JSON?) -> Allocations {
        var out = Allocations()
        let newIPs = new.map { ServiceAllocator.ips($0) } ?? []
        for ip in ServiceAllocator.ips(old) where !newIPs.contains(ip) { out.ips.append(IPv4.text(ip)) }
        let newPorts = new.map { ServiceAllocator.nodePorts($0) } ?? []
        for p in ServiceAllocator.nodePorts(old) where !newPorts.contains(p) { out.ports.append(p) }
        return out
    }
}
