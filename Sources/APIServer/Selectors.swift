import Foundation

/// A parsed label selector (`app=web,tier!=db,env in (a,b),!canary`), as upstream's
/// `labels.Parse` accepts it.
public struct LabelSelector: Sendable, Equatable {
    public enum Op: Sendable, Equatable { case eq, neq, `in`, notIn, exists, notExists }
    public struct Requirement: Sendable, Equatable {
        public var key: String
        public var op: Op
        public var values: [String]
    }
    public var requirements: [Requirement] = []

    public var isEmpty: Bool { requirements.isEmpty }

    public init(requirements: [Requirement] = []) { self.requirements = requirements }

    public init(parsing text: String) throws(APIError) {
        var p = Substring(text)
        func skipSpace() { while p.first == " " { p.removeFirst() } }
        func word() -> String {
            var w = ""
            while let c = p.first, !" ,=!()".contains(c) { w.append(c); p.removeFirst() }
            return w
        }
        func bad(_ why: String) -> APIError {
            APIError.badRequest("unable to parse requirement: \(why)")
        }
        skipSpace()
        while !p.isEmpty {
            skipSpace()
            if p.first == "!" {
                p.removeFirst()
                skipSpace()
                let k = word()
                guard !k.isEmpty else { throw bad("missing key after '!' in \"\(text)\"") }
                requirements.append(Requirement(key: k, op: .notExists, values: []))
            } else {
                let k = word()
                guard !k.isEmpty else { throw bad("found '\(p.first.map(String.init) ?? "")', expected: identifier in \"\(text)\"") }
                skipSpace()
                if p.hasPrefix("==") || p.hasPrefix("=") || p.hasPrefix("!=") {
                    let op: Op = p.hasPrefix("!=") ? .neq : .eq
                    p.removeFirst(p.hasPrefix("==") || p.hasPrefix("!=") ? 2 : 1)
                    skipSpace()
                    let v = word()
                    requirements.append(Requirement(key: k, op: op, values: [v]))
                } else if p.hasPrefix("in ") || p.hasPrefix("in(") || p.hasPrefix("notin ") || p.hasPrefix("notin(") {
                    let op: Op = p.hasPrefix("in") ? .in : .notIn
                    p.removeFirst(op == .in ? 2 : 5)
                    skipSpace()
                    guard p.first == "(" else { throw bad("expected '(' after set operator in \"\(text)\"") }
                    p.removeFirst()
                    var values: [String] = []
                    while true {
                        skipSpace()
                        values.append(word())
                        skipSpace()
                        if p.first == "," { p.removeFirst(); continue }
                        if p.first == ")" { p.removeFirst(); break }
                        throw bad("expected ',' or ')' in \"\(text)\"")
                    }
                    requirements.append(Requirement(key: k, op: op, values: values))
                } else {
                    requirements.append(Requirement(key: k, op: .exists, values: []))
                }
            }
            skipSpace()
            if p.isEmpty { break }
            guard p.first == "," else { throw bad("found '\(p.first.map(String.init) ?? "")', expected: ',' or end in \"\(text)\"") }
            p.removeFirst()
        }
    }

    /// From an API `LabelSelector` object (`matchLabels` + `matchExpressions`).
    public init(object: JSON) throws(APIError) {
        if let ml = object["matchLabels"]?.object {
            for (k, v) in ml { requirements.append(Requirement(key: k, op: .eq, values: [v.string ?? ""])) }
        }
        for e in object["matchExpressions"]?.array ?? [] {
            let key = e["key"]?.string ?? ""
            let values = e["values"]?.array?.compactMap(\.string) ?? []
            switch e["operator"]?.string ?? "" {
            case "In": requirements.append(Requirement(key: key, op: .in, values: values))
            case "NotIn": requirements.append(Requirement(key: key, op: .notIn, values: values))
            case "Exists": requirements.append(Requirement(key: key, op: .exists, values: []))
            case "DoesNotExist": requirements.append(Requirement(key: key, op: .notExists, values: []))
            case let op: throw APIError.badRequest("\"\(op)\" is not a valid label selector operator")
            }
        }
    }

    public func matches(_ labels: [String: String]) -> Bool {
        for r in requirements {
            let v = labels[r.key]
            switch r.op {
            case .eq: if v != r.values.first { return false }
            case .neq: if let v, v == r.values.first { return false }
            case .in: guard let v, r.values.contains(v) else { return false }
            case .notIn: if let v, r.values.contains(v) { return false }
            case .exists: if v == nil { return false }
            case .notExists: if v != nil { return false }
            }
        }
        return true
    }
}

/// A parsed field selector (`spec.nodeName=n1,status.phase!=Failed`).
public struct FieldSelector: Sendable, Equatable {
    public struct Requirement: Sendable, Equatable {
        public var field: String
        public var negate: Bool
        public var value: String
    }
    public var requirements: [Requirement] = []
    public var isEmpty: Bool { requirements.isEmpty }

    public init(parsing text: String) throws(APIError) {
        for term in text.split(separator: ",") {
            let t = String(term)
            if let r = t.range(of: "!=") {
                requirements.append(Requirement(field: String(t[..<r.lowerBound]), negate: true, value: String(t[r.upperBound...])))
            } else if let r = t.range(of: "==") ?? t.range(of: "=") {
                requirements.append(Requirement(field: String(t[..<r.lowerBound]), negate: false, value: String(t[r.upperBound...])))
            } else {
                throw APIError.badRequest("invalid selector: '\(text)'; can't understand '\(t)'")
            }
        }
    }

    /// The exact value required for `field`, when the selector pins one (used to narrow reads
    /// and by the node authorizer for single-object list/watch).
    public func pinned(_ field: String) -> String? {
        requirements.first { $0.field == field && !$0.negate }?.value
    }

    /// The fields each kind can be selected on (upstream's field label conversions).
    static func supported(_ kind: String) -> Set<String> {
        let common: Set<String> = ["metadata.name", "metadata.namespace"]
        switch kind {
        case "Pod":
            return common.union(["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                                 "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"])
        case "Event":
            return common.union(["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                                 "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                                 "reason", "reportingComponent", "source", "type"])
        case "Secret": return common.union(["type"])
        case "Node": return common.union(["spec.unschedulable"])
        case "Namespace": return common.union(["status.phase"])
        case "ReplicaSet": return common.union(["status.replicas"])
        default: return common
        }
    }

    public func validate(kind: String, apiVersion: String) throws(APIError) {
        let ok = Self.supported(kind)
        for r in requirements where !ok.contains(r.field) {
            throw APIError.badRequest("field label not supported: \(r.field)")
        }
    }

    public func matches(_ obj: JSON) -> Bool {
        for r in requirements {
            let v = Self.value(obj, r.field)
            if (v == r.value) == r.negate { return false }
        }
        return true
    }

    static func value(_ obj: JSON, _ field: String) -> String {
        if field == "source" { return obj["source"]?["component"]?.string ?? "" }
        if field == "spec.hostNetwork" { return String(obj["spec"]?["hostNetwork"]?.bool ?? false) }
        if field == "spec.unschedulable" { return String(obj["spec"]?["unschedulable"]?.bool ?? false) }
        if field == "status.replicas" { return String(obj["status"]?["replicas"]?.int ?? 0) }
        let v = obj[path: field.split(separator: ".").map(String.init)]
        switch v {
        case .string(let s)?: return s
        case .int(let i)?: return String(i)
        case .bool(let b)?: return String(b)
        default: return ""
        }
    }
}
