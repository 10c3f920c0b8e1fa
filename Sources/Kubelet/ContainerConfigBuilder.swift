import KubeAPI
import Runtime

/// Maps a Pod's container onto the runtime's container config: command and args with `$(VAR)`
/// expansion, environment (explicit values, fieldRefs, resourceFieldRefs; configMap and secret
/// references through `EnvSource` in API mode), security context (container over pod), resources.
struct ContainerConfigBuilder {
    let pod: Pod
    let uid: String
    let podIP: String
    let hostIP: String
    let nodeName: String
    var envSource: (any EnvSource)? = nil

    struct ConfigError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Labels that let a restarted kubelet find its containers again (as upstream sets them).
    static func labels(pod: Pod, uid: String, container: String) -> [String: String] {
        ["io.kubernetes.pod.uid": uid, "io.kubernetes.pod.name": pod.metadata.name ?? "",
         "io.kubernetes.pod.namespace": pod.metadata.namespace ?? "default", "io.kubernetes.container.name": container]
    }

    func build(_ c: Container, attempt: UInt32, mounts: [ContainerMount], qos: PodResources.QOSClass, memoryCapacity: Int64,
               serviceEnv: [String] = []) async throws -> ContainerConfig {
        let env = try await environment(c, serviceEnv: serviceEnv)
        let lookup = Dictionary(env.map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }, uniquingKeysWith: { _, last in last })
        var config = ContainerConfig(name: c.name, attempt: attempt, image: c.image ?? "")
        config.command = (c.command ?? []).map { Self.expand($0, lookup) }
        config.args = (c.args ?? []).map { Self.expand($0, lookup) }
        config.workingDir = c.workingDir ?? ""
        config.env = env
        config.mounts = mounts
        config.labels = Self.labels(pod: pod, uid: uid, container: c.name)
        config.annotations = ["io.kubernetes.container.restartCount": String(attempt)]
        config.logPath = "\(c.name)/\(attempt).log"
        config.resources = PodResources.containerResources(c, qos: qos, memoryCapacity: memoryCapacity)
        config.security = security(c)
        return config
    }

    func security(_ c: Container) -> ContainerSecurity {
        let podSC = pod.spec.securityContext
        let sc = c.securityContext
        var s = ContainerSecurity()
        s.runAsUser = sc?.runAsUser ?? podSC?.runAsUser
        s.runAsGroup = sc?.runAsGroup ?? podSC?.runAsGroup
        s.supplementalGroups = (podSC?.supplementalGroups ?? []) + (podSC?.fsGroup.map { [$0] } ?? [])
        s.readOnlyRootfs = sc?.readOnlyRootFilesystem ?? false
        s.privileged = sc?.privileged ?? false
        s.addCapabilities = sc?.capabilities?.add ?? []
        s.dropCapabilities = sc?.capabilities?.drop ?? []
        // allowPrivilegeEscalation defaults to true; false means no_new_privs.
        s.noNewPrivileges = sc?.allowPrivilegeEscalation == false
        switch (sc?.seccompProfile ?? podSC?.seccompProfile)?.type {
        case "RuntimeDefault": s.seccomp = .runtimeDefault
        case "Unconfined": s.seccomp = .unconfined
        case "Localhost":
            let file = (sc?.seccompProfile ?? podSC?.seccompProfile)?.localhostProfile ?? ""
            s.seccomp = .localhost(file.hasPrefix("/") ? file : "/var/lib/kubelet/seccomp/" + file)
        default: s.seccomp = .unset
        }
        if sc?.procMount == "Unmasked" {
            s.maskedPaths = []
            s.readOnlyPaths = []
        }
        return s
    }

    func environment(_ c: Container, serviceEnv: [String]) async throws -> [String] {
        var out: [String] = serviceEnv
        var values: [String: String] = [:]
        for pair in serviceEnv {
            let p = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            values[String(p[0])] = p.count > 1 ? String(p[1]) : ""
        }
        for from in c.envFrom ?? [] {
            guard let source = envSource else {
                throw ConfigError(message: "container \(c.name): envFrom needs an API server (standalone mode)")
            }
            for (k, v) in try await source.values(from: from, namespace: pod.metadata.namespace ?? "default") {
                out.append("\(from.prefix ?? "")\(k)=\(v)")
                values[(from.prefix ?? "") + k] = v
            }
        }
        for e in c.env ?? [] {
            let value: String
            if let v = e.value {
                value = Self.expand(v, values)
            } else if let from = e.valueFrom {
                value = try await resolve(from, name: e.name, container: c)
            } else {
                value = ""
            }
            out.append("\(e.name)=\(value)")
            values[e.name] = value
        }
        return out
    }

    func resolve(_ from: EnvVarSource, name: String, container c: Container) async throws -> String {
        if let field = from.fieldRef { return try fieldValue(field.fieldPath, env: name) }
        if let resource = from.resourceFieldRef { return try resourceValue(resource, container: c, env: name) }
        guard let source = envSource else {
            throw ConfigError(message: "container \(c.name): env \(name) references a configMap or secret, which needs an API server (standalone mode)")
        }
        return try await source.value(from, namespace: pod.metadata.namespace ?? "default", env: name)
    }

    func fieldValue(_ path: String, env: String) throws -> String {
        switch path {
        case "metadata.name": return pod.metadata.name ?? ""
        case "metadata.namespace": return pod.metadata.namespace ?? "default"
        case "metadata.uid": return uid
        case "spec.nodeName": return nodeName
        case "spec.serviceAccountName": return pod.spec.serviceAccountName ?? ""
        case "status.podIP", "status.podIPs": return podIP
        case "status.hostIP", "status.hostIPs": return hostIP
        default:
            for prefix in ["metadata.labels['", "metadata.annotations['"] where path.hasPrefix(prefix) && path.hasSuffix("']") {
                let key = String(path.dropFirst(prefix.count).dropLast(2))
                return (prefix.contains("labels") ? pod.metadata.labels?[key] : pod.metadata.annotations?[key]) ?? ""
            }
            throw ConfigError(message: "env \(env): unsupported fieldRef \(path)")
        }
    }

    func resourceValue(_ ref: ResourceFieldSelector, container c: Container, env: String) throws -> String {
        let target = ref.containerName.flatMap { n in pod.spec.containers.first { $0.name == n } } ?? c
        let divisor = ref.divisor?.milli ?? 1000
        let parts = ref.resource.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw ConfigError(message: "env \(env): unsupported resource \(ref.resource)") }
        let q = parts[0] == "limits" ? target.resources?.limits?[parts[1]] : PodResources.requests(target)[parts[1]]
        guard let quantity = q else { return parts[1] == "cpu" ? "1" : String(MachineFacts.memoryBytes() * 1000 / max(divisor, 1)) }
        let value = (quantity.milli + divisor - 1) / max(divisor, 1)
        return String(value)
    }

    /// `$(VAR)` expansion as Kubernetes does it: unknown references stay, `$$` escapes.
    static func expand(_ input: String, _ values: [String: String]) -> String {
        guard input.contains("$") else { return input }
        var out = ""
        var i = input.startIndex
        while i < input.endIndex {
            let ch = input[i]
            let next = input.index(after: i)
            if ch == "$", next < input.endIndex {
                if input[next] == "$" { out.append("$"); i = input.index(after: next); continue }
                if input[next] == "(", let close = input[next...].firstIndex(of: ")") {
                    let name = String(input[input.index(after: next)..<close])
                    if let v = values[name] { out += v } else { out += String(input[i...close]) }
                    i = input.index(after: close)
                    continue
                }
            }
            out.append(ch)
            i = next
        }
        return out
    }
}

/// configMap and secret values for environment variables (API mode).
protocol EnvSource: Sendable {
    func value(_ from: EnvVarSource, namespace: String, env: String) async throws -> String
    func values(from: EnvFromSource, namespace: String) async throws -> [(String, String)]
}
