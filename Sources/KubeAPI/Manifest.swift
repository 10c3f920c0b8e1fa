import Foundation
import Yams

/// A manifest that cannot be used, naming the file and the field so an operator can fix it.
public struct ManifestError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let field: String
    public let message: String

    public init(path: String, field: String, message: String) {
        self.path = path
        self.field = field
        self.message = message
    }

    public var description: String {
        let location = path.isEmpty ? "" : "\(path): "
        return field.isEmpty ? "\(location)\(message)" : "\(location)\(field): \(message)"
    }
}

/// YAML or JSON in, Kubernetes JSON out: YAML is converted once at the edge (as kubectl does),
/// so every typed decode sees JSON and every error names the JSON field path.
public enum Manifest {
    /// Splits a YAML/JSON stream into its documents as JSON values (empty documents dropped).
    public static func documents(_ text: String, path: String = "") throws -> [JSONValue] {
        do {
            var out: [JSONValue] = []
            for node in try Yams.compose_all(yaml: text) {
                let value = try jsonValue(node)
                if value != .null { out.append(value) }
            }
            return out
        } catch let error as ManifestError {
            throw ManifestError(path: path, field: error.field, message: error.message)
        } catch let error as YamlError {
            throw ManifestError(path: path, field: "", message: "invalid YAML: \(error)")
        }
    }

    /// Decodes one typed object from a JSON value, turning Swift's decoding errors into field paths.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, path: String = "") throws -> T {
        let data = try JSONEncoder().encode(value)
        return try decode(type, json: data, path: path)
    }

    public static func decode<T: Decodable>(_ type: T.Type, json data: Data, path: String = "") throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw manifestError(error, path: path)
        }
    }

    /// Reads a file holding exactly one object of the given type.
    public static func load<T: Decodable>(_ type: T.Type, file: String) throws -> T {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw ManifestError(path: file, field: "", message: "cannot read: \(error.localizedDescription)")
        }
        let docs = try documents(text, path: file)
        guard docs.count == 1 else {
            throw ManifestError(path: file, field: "", message: "expected one object, found \(docs.count)")
        }
        return try decode(type, from: docs[0], path: file)
    }

    static func manifestError(_ error: DecodingError, path: String) -> ManifestError {
        switch error {
        case .typeMismatch(let type, let ctx):
            return ManifestError(path: path, field: fieldPath(ctx.codingPath), message: "expected \(typeName(type))")
        case .valueNotFound(let type, let ctx):
            return ManifestError(path: path, field: fieldPath(ctx.codingPath), message: "expected \(typeName(type)), found null")
        case .keyNotFound(let key, let ctx):
            return ManifestError(path: path, field: fieldPath(ctx.codingPath + [key]), message: "Required value")
        case .dataCorrupted(let ctx):
            return ManifestError(path: path, field: fieldPath(ctx.codingPath), message: ctx.debugDescription)
        @unknown default:
            return ManifestError(path: path, field: "", message: "\(error)")
        }
    }

    /// `spec.containers[0].image` from a coding path.
    public static func fieldPath(_ keys: [CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let index = key.intValue { out += "[\(index)]" } else {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            }
        }
        return out
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "string"
        case is Int.Type, is Int32.Type, is Int64.Type: return "integer"
        case is Bool.Type: return "boolean"
        case is Double.Type: return "number"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "array" }
            if name.hasPrefix("Dictionary") { return "object" }
            return name
        }
    }

    static func jsonValue(_ node: Node, field: String = "") throws -> JSONValue {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return Bool.construct(from: scalar).map(JSONValue.bool) ?? .string(scalar.string)
            case .int:
                if let i = Int64(scalar.string) { return .int(i) }
                if let i = Int.construct(from: scalar) { return .int(Int64(i)) }
                return .string(scalar.string)
            case .float: return Double.construct(from: scalar).map(JSONValue.double) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else {
                    throw ManifestError(path: "", field: field, message: "mapping key is not a string")
                }
                let child = field.isEmpty ? name : field + "." + name
                object[name] = try jsonValue(value, field: child)
            }
            return .object(object)
        case .sequence(let sequence):
            return .array(try sequence.enumerated().map { try jsonValue($0.element, field: "\(field)[\($0.offset)]") })
        case .alias:
            throw ManifestError(path: "", field: field, message: "YAML aliases are not supported")
        }
    }
}
