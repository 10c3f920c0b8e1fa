import CNI

/// The CNI 1.1.0 success result and error object as JSON Schemas (spec sections "Success"
/// and "Error"; field names, types and required fields from the spec), plus the small
/// JSON-Schema validator that checks documents against them. Strict about unknown keys so
/// a misspelled field in our output fails.
enum ResultSchema {
    static let result = #"""
    {
      "type": "object",
      "required": ["cniVersion"],
      "additionalProperties": false,
      "properties": {
        "cniVersion": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$"},
        "interfaces": {"type": "array", "items": {
          "type": "object", "required": ["name"], "additionalProperties": false,
          "properties": {
            "name": {"type": "string", "minLength": 1},
            "mac": {"type": "string", "pattern": "^([0-9a-f]{2}:){5}[0-9a-f]{2}$"},
            "mtu": {"type": "integer", "minimum": 0},
            "sandbox": {"type": "string"},
            "socketPath": {"type": "string"},
            "pciID": {"type": "string"}
          }}},
        "ips": {"type": "array", "items": {
          "type": "object", "required": ["address"], "additionalProperties": false,
          "properties": {
            "address": {"type": "string", "pattern": "^[0-9a-fA-F:.]+/[0-9]{1,3}$"},
            "gateway": {"type": "string", "pattern": "^[0-9a-fA-F:.]+$"},
            "interface": {"type": "integer", "minimum": 0}
          }}},
        "routes": {"type": "array", "items": {
          "type": "object", "required": ["dst"], "additionalProperties": false,
          "properties": {
            "dst": {"type": "string", "pattern": "^[0-9a-fA-F:.]+/[0-9]{1,3}$"},
            "gw": {"type": "string", "pattern": "^[0-9a-fA-F:.]+$"},
            "mtu": {"type": "integer", "minimum": 0},
            "advmss": {"type": "integer", "minimum": 0},
            "priority": {"type": "integer", "minimum": 0},
            "table": {"type": "integer", "minimum": 0},
            "scope": {"type": "integer", "minimum": 0}
          }}},
        "dns": {"type": "object", "additionalProperties": false, "properties": {
          "nameservers": {"type": "array", "items": {"type": "string"}},
          "domain": {"type": "string"},
          "search": {"type": "array", "items": {"type": "string"}},
          "options": {"type": "array", "items": {"type": "string"}}
        }}
      }
    }
    """#

    static let error = #"""
    {
      "type": "object",
      "required": ["cniVersion", "code", "msg"],
      "additionalProperties": false,
      "properties": {
        "cniVersion": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$"},
        "code": {"type": "integer", "minimum": 1},
        "msg": {"type": "string", "minLength": 1},
        "details": {"type": "string"}
      }
    }
    """#

    static let version = #"""
    {
      "type": "object",
      "required": ["cniVersion", "supportedVersions"],
      "properties": {
        "cniVersion": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$"},
        "supportedVersions": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$"}}
      }
    }
    """#

    /// Schema violations of `document`, each with its JSON path; empty when valid.
    static func violations(_ document: JSON, schema text: String) -> [String] {
        guard let schema = try? JSON.parse(text) else { return ["schema itself does not parse"] }
        var problems: [String] = []
        check(document, schema, path: "$", into: &problems)
        return problems
    }

    /// Beyond the schema: the spec's cross-field rules for a result.
    static func semanticViolations(_ document: JSON) -> [String] {
        var problems: [String] = []
        let interfaces = document["interfaces"]?.arrayValue ?? []
        for (index, ip) in (document["ips"]?.arrayValue ?? []).enumerated() {
            if let interface = ip["interface"]?.intValue, interface >= interfaces.count {
                problems.append("$.ips[\(index)].interface \(interface) points past interfaces (\(interfaces.count))")
            }
        }
        return problems
    }

    static func check(_ value: JSON, _ schema: JSON, path: String, into problems: inout [String]) {
        if let type = schema["type"]?.stringValue, !matches(value, type: type) {
            problems.append("\(path): expected \(type), found \(value.kindDescription)")
            return
        }
        if let pattern = schema["pattern"]?.stringValue, let text = value.stringValue,
           let regex = try? Regex(pattern), (try? regex.firstMatch(in: text)) == nil {
            problems.append("\(path): \"\(text)\" does not match \(pattern)")
        }
        if let minimum = schema["minimum"]?.intValue, let number = value.intValue, number < minimum {
            problems.append("\(path): \(number) is below \(minimum)")
        }
        if let minLength = schema["minLength"]?.intValue, let text = value.stringValue, text.count < minLength {
            problems.append("\(path): shorter than \(minLength)")
        }
        if case .object(let object) = value {
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[key] == nil {
                problems.append("\(path): missing required \(key)")
            }
            let properties = schema["properties"]?.objectValue ?? JSONObject()
            for (key, member) in object {
                if let sub = properties[key] {
                    check(member, sub, path: "\(path).\(key)", into: &problems)
                } else if schema["additionalProperties"] == .bool(false) {
                    problems.append("\(path): unexpected property \(key)")
                }
            }
        }
        if case .array(let items) = value {
            if let minItems = schema["minItems"]?.intValue, items.count < minItems {
                problems.append("\(path): fewer than \(minItems) items")
            }
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { check(item, itemSchema, path: "\(path)[\(index)]", into: &problems) }
            }
        }
    }

    static func matches(_ value: JSON, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): return true
        case ("integer", .int): return true
        case ("integer", .double(let d)): return d.rounded() == d
        case ("number", .int), ("number", .double): return true
        default: return false
        }
    }
}
