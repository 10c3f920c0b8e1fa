import KubeAPI

/// Defaulting and the validation a kubelet needs for pods that did not pass an API server
/// (static pods): field names in errors follow the API server's (`spec.containers[0].name`).
enum PodDefaults {
    static func apply(_ pod: inout Pod) {
        pod.apiVersion = pod.apiVersion ?? "v1"
        pod.kind = pod.kind ?? "Pod"
        if pod.metadata.namespace == nil || pod.metadata.namespace == "" { pod.metadata.namespace = "default" }
        pod.spec.restartPolicy = pod.spec.restartPolicy ?? "Always"
        pod.spec.terminationGracePeriodSeconds = pod.spec.terminationGracePeriodSeconds ?? 30
        pod.spec.dnsPolicy = pod.spec.dnsPolicy ?? "ClusterFirst"
        pod.spec.schedulerName = pod.spec.schedulerName ?? "default-scheduler"
        pod.spec.enableServiceLinks = pod.spec.enableServiceLinks ?? true
        func defaults(_ c: inout Container) {
            c.terminationMessagePath = c.terminationMessagePath ?? "/dev/termination-log"
            c.terminationMessagePolicy = c.terminationMessagePolicy ?? "File"
            if c.imagePullPolicy == nil {
                let image = c.image ?? ""
                let tag = image.split(separator: "/").last.flatMap { $0.contains(":") ? $0.split(separator: ":").last : nil }
                c.imagePullPolicy = image.contains("@") ? "IfNotPresent" : (tag == nil || tag == "latest" ? "Always" : "IfNotPresent")
            }
        }
        for i in pod.spec.containers.indices { defaults(&pod.spec.containers[i]) }
        if pod.spec.initContainers != nil {
            for i in pod.spec.initContainers!.indices { defaults(&pod.spec.initContainers![i]) }
        }
    }

    static func validate(_ pod: Pod, path: String) throws {
        func fail(_ field: String, _ message: String) -> ManifestError { ManifestError(path: path, field: field, message: message) }
        guard let name = pod.metadata.name, !name.isEmpty else { throw fail("metadata.name", "Required value") }
        guard isDNSSubdomain(name) else {
            throw fail("metadata.name", "Invalid value: \"\(name)\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'")
        }
        if let ns = pod.metadata.namespace, !ns.isEmpty, !isDNSLabel(ns) {
            throw fail("metadata.namespace", "Invalid value: \"\(ns)\": a lowercase RFC 1123 label is required")
        }
        guard !pod.spec.containers.isEmpty else { throw fail("spec.containers", "Required value") }
        if let policy = pod.spec.restartPolicy, !["Always", "OnFailure", "Never"].contains(policy) {
            throw fail("spec.restartPolicy", "Unsupported value: \"\(policy)\": supported values: \"Always\", \"OnFailure\", \"Never\"")
        }
        let volumeNames = Set((pod.spec.volumes ?? []).map(\.name))
        var names = Set<String>()
        for (group, list) in [("initContainers", pod.spec.initContainers ?? []), ("containers", pod.spec.containers)] {
            for (i, c) in list.enumerated() {
                let base = "spec.\(group)[\(i)]"
                guard isDNSLabel(c.name) else { throw fail(base + ".name", "Invalid value: \"\(c.name)\": a lowercase RFC 1123 label is required") }
                guard names.insert(c.name).inserted else { throw fail(base + ".name", "Duplicate value: \"\(c.name)\"") }
                guard let image = c.image, !image.trimmingCharacters(in: .whitespaces).isEmpty else { throw fail(base + ".image", "Required value") }
                for (j, m) in (c.volumeMounts ?? []).enumerated() where !volumeNames.contains(m.name) {
                    throw fail(base + ".volumeMounts[\(j)].name", "Not found: \"\(m.name)\"")
                }
                for (j, m) in (c.volumeMounts ?? []).enumerated() where !m.mountPath.hasPrefix("/") {
                    throw fail(base + ".volumeMounts[\(j)].mountPath", "Invalid value: \"\(m.mountPath)\": must be an absolute path")
                }
                for (j, p) in (c.ports ?? []).enumerated() where p.containerPort < 1 || p.containerPort > 65535 {
                    throw fail(base + ".ports[\(j)].containerPort", "Invalid value: \(p.containerPort): must be between 1 and 65535, inclusive")
                }
            }
        }
        var seenVolumes = Set<String>()
        for (i, v) in (pod.spec.volumes ?? []).enumerated() {
            guard seenVolumes.insert(v.name).inserted else { throw fail("spec.volumes[\(i)].name", "Duplicate value: \"\(v.name)\"") }
        }
    }

    static func isDNSLabel(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 63, let first = s.first, let last = s.last else { return false }
        return s.allSatisfy { $0.isLowercase && $0.isASCII || $0.isNumber && $0.isASCII || $0 == "-" }
            && first != "-" && last != "-"
    }

    static func isDNSSubdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel(String($0)) }
    }
}
