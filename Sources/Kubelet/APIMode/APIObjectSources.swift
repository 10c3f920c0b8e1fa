import Foundation
import KubeAPI
import KubeClient
import LinuxPrimitives

/// configMap and secret values for environment variables, read from the API server (the Node
/// authorizer lets a node read those its pods reference).
struct APIEnvSource: EnvSource {
    let client: KubeClient

    struct MissingKey: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    func data(kind: String, namespace: String, name: String) async throws -> [String: String]? {
        let path = "/api/v1/namespaces/\(namespace)/\(kind)/\(name)"
        do {
            let object = try await client.get(path)
            var out: [String: String] = [:]
            for (k, v) in object["data"]?.objectValue ?? [:] {
                guard let s = v.stringValue else { continue }
                if kind == "secrets" {
                    out[k] = Data(base64Encoded: s).map { String(decoding: $0, as: UTF8.self) } ?? ""
                } else {
                    out[k] = s
                }
            }
            return out
        } catch let error as KubeAPIError where error.isNotFound {
            return nil
        }
    }

    func value(_ from: EnvVarSource, namespace: String, env: String) async throws -> String {
        let (kind, ref) = from.configMapKeyRef.map { ("configmaps", $0) } ?? ("secrets", from.secretKeyRef!)
        let noun = kind == "configmaps" ? "configmap" : "secret"
        guard let data = try await data(kind: kind, namespace: namespace, name: ref.name ?? "") else {
            if ref.optional == true { return "" }
            throw MissingKey(message: "\(noun) \"\(ref.name ?? "")\" not found")
        }
        guard let value = data[ref.key] else {
            if ref.optional == true { return "" }
            throw MissingKey(message: "couldn't find key \(ref.key) in \(noun) \(namespace)/\(ref.name ?? "")")
        }
        return value
    }

    func values(from: EnvFromSource, namespace: String) async throws -> [(String, String)] {
        let (kind, ref) = from.configMapRef.map { ("configmaps", $0) } ?? ("secrets", from.secretRef ?? NamedOptional(name: nil, optional: true))
        guard let data = try await data(kind: kind, namespace: namespace, name: ref.name ?? "") else {
            if ref.optional == true { return [] }
            throw MissingKey(message: "\(kind == "configmaps" ? "configmap" : "secret") \"\(ref.name ?? "")\" not found")
        }
        return data.sorted { $0.key < $1.key }
    }
}

/// configMap, secret, downwardAPI and projected volumes, written the way kubelet's atomic
/// writer does: the files live in a timestamped directory, `..data` points at it, and each
/// top-level name is a symlink through `..data`; an update swaps `..data` in one rename, so a
/// reader never sees half an update.
struct APIVolumeWriter: SourcedVolumeWriter {
    let client: KubeClient
    let env: APIEnvSource

    func write(_ volume: Volume, pod: Pod, into dir: String) async throws {
        let ns = pod.metadata.namespace ?? "default"
        var files: [String: (bytes: [UInt8], mode: Int32)] = [:]
        func add(kind: String, name: String?, items: [KeyToPath]?, defaultMode: Int32?, optional: Bool?) async throws {
            guard let raw = try await rawData(kind: kind, namespace: ns, name: name ?? "") else {
                if optional == true { return }
                throw VolumeManager.VolumeError(volume: volume.name, message: "\(kind == "configmaps" ? "configmap" : "secret") \"\(name ?? "")\" not found")
            }
            let mode = defaultMode ?? 0o644
            if let items {
                for item in items {
                    guard let value = raw[item.key] else {
                        if optional == true { continue }
                        throw VolumeManager.VolumeError(volume: volume.name, message: "key \(item.key) not found in \(name ?? "")")
                    }
                    files[item.path] = (value, item.mode ?? mode)
                }
            } else {
                for (k, v) in raw { files[k] = (v, mode) }
            }
        }
        func downward(_ source: DownwardAPIVolumeSource) throws {
            let builder = ContainerConfigBuilder(pod: pod, uid: pod.metadata.uid ?? "", podIP: pod.status?.podIP ?? "", hostIP: pod.status?.hostIP ?? "",
                                                 nodeName: pod.spec.nodeName ?? "")
            for item in source.items ?? [] {
                let value: String
                if let f = item.fieldRef {
                    if f.fieldPath == "metadata.labels" || f.fieldPath == "metadata.annotations" {
                        let map = (f.fieldPath == "metadata.labels" ? pod.metadata.labels : pod.metadata.annotations) ?? [:]
                        value = map.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: "\n")
                    } else {
                        value = try builder.fieldValue(f.fieldPath, env: item.path)
                    }
                } else if let r = item.resourceFieldRef, let c = pod.spec.containers.first(where: { $0.name == r.containerName }) ?? pod.spec.containers.first {
                    value = try builder.resourceValue(r, container: c, env: item.path)
                } else {
                    continue
                }
                files[item.path] = (Array(value.utf8), item.mode ?? source.defaultMode ?? 0o644)
            }
        }
        if let cm = volume.configMap { try await add(kind: "configmaps", name: cm.name, items: cm.items, defaultMode: cm.defaultMode, optional: cm.optional) }
        if let secret = volume.secret { try await add(kind: "secrets", name: secret.secretName, items: secret.items, defaultMode: secret.defaultMode, optional: secret.optional) }
        if let d = volume.downwardAPI { try downward(d) }
        for source in volume.projected?.sources ?? [] {
            let mode = volume.projected?.defaultMode
            if let cm = source.configMap { try await add(kind: "configmaps", name: cm.name, items: cm.items, defaultMode: cm.defaultMode ?? mode, optional: cm.optional) }
            if let secret = source.secret { try await add(kind: "secrets", name: secret.secretName, items: secret.items, defaultMode: secret.defaultMode ?? mode, optional: secret.optional) }
            if let d = source.downwardAPI { try downward(d) }
        }
        try AtomicVolumeWriter.write(files, into: dir, volume: volume.name)
    }

    func rawData(kind: String, namespace: String, name: String) async throws -> [String: [UInt8]]? {
        do {
            let object = try await client.get("/api/v1/namespaces/\(namespace)/\(kind)/\(name)")
            var out: [String: [UInt8]] = [:]
            for (k, v) in object["data"]?.objectValue ?? [:] {
                guard let s = v.stringValue else { continue }
                out[k] = kind == "secrets" ? Data(base64Encoded: s).map { [UInt8]($0) } ?? [] : Array(s.utf8)
            }
            for (k, v) in object["binaryData"]?.objectValue ?? [:] {
                out[k] = v.stringValue.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } ?? []
            }
            return out
        } catch let error as KubeAPIError where error.isNotFound {
            return nil
        }
    }
}

enum AtomicVolumeWriter {
    static func write(_ files: [String: (bytes: [UInt8], mode: Int32)], into dir: String, volume: String) throws {
        try FileSystem.createDirectory(dir, mode: 0o755)
        for path in files.keys where path.hasPrefix("/") || path.split(separator: "/").contains("..") || path.hasPrefix("..") {
            throw VolumeManager.VolumeError(volume: volume, message: "invalid path \"\(path)\": must be relative and must not contain '..'")
        }
        // Unchanged content: nothing to do.
        let current = dir + "/..data"
        if FileSystem.exists(current) {
            let same = files.allSatisfy { (path, file) in
                (try? FileSystem.readBytes(current + "/" + path)) == file.bytes
            }
            let existing = Set(((try? FileSystem.listDirectory(dir)) ?? []).filter { !$0.hasPrefix("..") })
            let wantedTop = Set(files.keys.map { String($0.split(separator: "/").first ?? "") })
            if same && existing == wantedTop { return }
        }
        let stamp = "..\(KubeTime.now().replacingOccurrences(of: ":", with: "_"))_\(UInt32.random(in: 0...UInt32.max))"
        let staging = dir + "/" + stamp
        try FileSystem.createDirectory(staging, mode: 0o755)
        for (path, file) in files {
            let full = staging + "/" + path
            if let slash = full.lastIndex(of: "/") { try FileSystem.createDirectory(String(full[..<slash])) }
            try FileSystem.write(full, file.bytes, mode: mode_t(file.mode))
            chmod(full, mode_t(file.mode))
        }
        let previous = (try? FileManager.default.destinationOfSymbolicLink(atPath: current)).map { dir + "/" + $0 }
        let tmpLink = dir + "/..data_tmp"
        try? FileSystem.removeFile(tmpLink)
        try FileSystem.symlink(target: stamp, at: tmpLink)
        guard rename(tmpLink, current) == 0 else { throw SystemError.current("rename(..data)", path: current) }
        for top in Set(files.keys.map { String($0.split(separator: "/").first ?? "") }) where !FileSystem.exists(dir + "/" + top) {
            try FileSystem.symlink(target: "..data/" + top, at: dir + "/" + top)
        }
        let wantedTop = Set(files.keys.map { String($0.split(separator: "/").first ?? "") })
        for name in (try? FileSystem.listDirectory(dir)) ?? [] where !name.hasPrefix("..") && !wantedTop.contains(name) {
            try? FileSystem.removeFile(dir + "/" + name)
        }
        if let previous, previous != staging { try? FileSystem.removeTree(previous) }
    }
}

/// Services by namespace, for the `<NAME>_SERVICE_HOST` variables kubelet puts in containers.
final class ServiceDirectory: Sendable {
    private let services = LockedDictionary<String, Service>()

    func apply(_ update: Informer.Update) {
        switch update {
        case .snapshot(let items):
            for key in services.keys() { services.remove(key) }
            for item in items { if let s = try? item.decoded(as: Service.self) { services.set(key(s), s) } }
        case .added(let item), .modified(let item):
            if let s = try? item.decoded(as: Service.self) { services.set(key(s), s) }
        case .deleted(let item):
            if let s = try? item.decoded(as: Service.self) { services.remove(key(s)) }
        }
    }

    func key(_ s: Service) -> String { "\(s.metadata.namespace ?? "default")/\(s.metadata.name ?? "")" }

    /// The docker-links-style variables for the services of `namespace` (and the `kubernetes`
    /// service of `default`), as kubelet builds them.
    func environment(namespace: String) -> [String] {
        var out: [String] = []
        let all = services.snapshot().values.filter { s in
            let ns = s.metadata.namespace ?? "default"
            return ns == namespace || (ns == "default" && s.metadata.name == "kubernetes")
        }.sorted { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }
        for s in all {
            guard let ip = s.spec.clusterIP, !ip.isEmpty, ip != "None", let ports = s.spec.ports, let first = ports.first else { continue }
            let name = (s.metadata.name ?? "").uppercased().replacingOccurrences(of: "-", with: "_")
            out.append("\(name)_SERVICE_HOST=\(ip)")
            out.append("\(name)_SERVICE_PORT=\(first.port)")
            for p in ports where (p.name ?? "").isEmpty == false {
                out.append("\(name)_SERVICE_PORT_\((p.name ?? "").uppercased().replacingOccurrences(of: "-", with: "_"))=\(p.port)")
            }
            let proto = (first.protocol_ ?? "TCP").lowercased()
            out.append("\(name)_PORT=\(proto)://\(ip):\(first.port)")
            for p in ports {
                let pr = (p.protocol_ ?? "TCP")
                let prefix = "\(name)_PORT_\(p.port)_\(pr.uppercased())"
                out.append("\(prefix)=\(pr.lowercased())://\(ip):\(p.port)")
                out.append("\(prefix)_PROTO=\(pr.lowercased())")
                out.append("\(prefix)_PORT=\(p.port)")
                out.append("\(prefix)_ADDR=\(ip)")
            }
        }
        return out
    }
}
