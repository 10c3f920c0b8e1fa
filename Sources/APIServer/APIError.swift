/// One field problem in a 422 Invalid answer, as upstream's `StatusCause`.
public struct FieldCause: Sendable, Equatable {
    public enum Reason: String, Sendable {
        case invalid = "FieldValueInvalid"
        case required = "FieldValueRequired"
        case notSupported = "FieldValueNotSupported"
        case duplicate = "FieldValueDuplicate"
        case forbidden = "FieldValueForbidden"
        case tooLong = "FieldValueTooLong"
        case typeInvalid = "FieldValueTypeInvalid"
        case notFound = "FieldValueNotFound"
    }
    public var reason: Reason
    public var field: String
    public var message: String

    /// Upstream's wording: `Invalid value: "x": why`, `Required value`, `Unsupported value: ...`.
    public static func invalid(_ field: String, _ value: JSON, _ detail: String) -> FieldCause {
        FieldCause(reason: .invalid, field: field, message: "Invalid value: \(Self.render(value)): \(detail)")
    }
    public static func required(_ field: String, _ detail: String = "") -> FieldCause {
        FieldCause(reason: .required, field: field, message: detail.isEmpty ? "Required value" : "Required value: \(detail)")
    }
    public static func notSupported(_ field: String, _ value: JSON, _ allowed: [String]) -> FieldCause {
        FieldCause(reason: .notSupported, field: field,
                   message: "Unsupported value: \(render(value)): supported values: \(allowed.map { "\"\($0)\"" }.joined(separator: ", "))")
    }
    public static func duplicate(_ field: String, _ value: JSON) -> FieldCause {
        FieldCause(reason: .duplicate, field: field, message: "Duplicate value: \(render(value))")
    }
    public static func forbidden(_ field: String, _ detail: String) -> FieldCause {
        FieldCause(reason: .forbidden, field: field, message: "Forbidden: \(detail)")
    }

    static func render(_ v: JSON) -> String {
        switch v {
        case .string(let s): return "\"\(s)\""
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        case .null: return "null"
        default: return v.text
        }
    }

    /// The text after the field path in the overall message: "metadata.name: Invalid value: ...".
    var summary: String { "\(field): \(message)" }
}

/// Every failure the API answers, carried to the wire as a `Status` object with upstream's
/// reason, code and message shape.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public var message: String
    public var details: JSON?

    public var description: String { "\(code) \(reason): \(message)" }

    public init(code: Int, reason: String, message: String, details: JSON? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    static func details(_ name: String?, _ r: ResourceType?, kind: String? = nil, causes: [FieldCause] = []) -> JSON {
        var d = JSONObject()
        if let name, !name.isEmpty { d["name"] = .string(name) }
        if let r, !r.group.isEmpty { d["group"] = .string(r.group) }
        if let k = kind ?? r?.plural { d["kind"] = .string(k) }
        if !causes.isEmpty {
            d["causes"] = .array(causes.map { .obj(["reason": .string($0.reason.rawValue), "message": .string($0.message), "field": .string($0.field)]) })
        }
        return .object(d)
    }

    public static func notFound(_ r: ResourceType, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(r.qualifiedName) \"\(name)\" not found", details: details(name, r))
    }
    public static func alreadyExists(_ r: ResourceType, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(r.qualifiedName) \"\(name)\" already exists", details: details(name, r))
    }
    public static func conflict(_ r: ResourceType, _ name: String, _ why: String) -> APIError {
        APIError(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled on \(r.qualifiedName) \"\(name)\": \(why)",
                 details: details(name, r))
    }
    public static func staleUpdate(_ r: ResourceType, _ name: String) -> APIError {
        conflict(r, name, "the object has been modified; please apply your changes to the latest version and try again")
    }
    public static func invalid(_ r: ResourceType, _ name: String, _ causes: [FieldCause]) -> APIError {
        let list = causes.map(\.summary)
        let joined = list.count == 1 ? list[0] : "[" + list.joined(separator: ", ") + "]"
        let group = r.group.isEmpty ? "" : ".\(r.group)"
        return APIError(code: 422, reason: "Invalid", message: "\(r.kind)\(group) \"\(name)\" is invalid: \(joined)",
                        details: details(name, r, kind: r.kind, causes: causes))
    }
    public static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }
    public static func forbidden(_ r: ResourceType?, _ name: String, _ why: String) -> APIError {
        let what = r.map { name.isEmpty ? "\($0.qualifiedName) is forbidden" : "\($0.qualifiedName) \"\(name)\" is forbidden" } ?? "forbidden"
        return APIError(code: 403, reason: "Forbidden", message: "\(what): \(why)", details: r.map { details(name, $0) })
    }
    public static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")
    public static func methodNotAllowed(_ message: String = "the server does not allow this method on the requested resource") -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: message)
    }
    public static func gone(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }
    public static func notAcceptable(_ message: String) -> APIError { APIError(code: 406, reason: "NotAcceptable", message: message) }
    public static func unsupportedMediaType(_ t: String) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got \(t))")
    }
    public static func `internal`(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }
    public static func tooLarge() -> APIError {
        APIError(code: 413, reason: "RequestEntityTooLarge", message: "Request entity too large: limit is 3145728")
    }
    public static func serviceUnavailable(_ message: String) -> APIError {
        APIError(code: 503, reason: "ServiceUnavailable", message: message)
    }

    /// The `Status` object sent for this error.
    public var status: JSON {
        var o = JSONObject()
        o["kind"] = "Status"
        o["apiVersion"] = "v1"
        o["metadata"] = .object(JSONObject())
        o["status"] = "Failure"
        o["message"] = .string(message)
        o["reason"] = .string(reason)
        if let details { o["details"] = details }
        o["code"] = .int(Int64(code))
        return .object(o)
    }
}
