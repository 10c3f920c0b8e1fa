/// The error a plugin prints on stdout with a non-zero exit (spec section "Error"): a code,
/// a short message and optional details. The runtime parses the same shape back, so one type
/// serves both ends of the protocol.
public struct CNIError: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: UInt
    public var msg: String
    public var details: String
    /// The version the error is written in; the runtime fills in what the plugin sent.
    public var cniVersion: String

    public init(code: UInt, msg: String, details: String = "", cniVersion: String = CNIVersion.current) {
        self.code = code
        self.msg = msg
        self.details = details
        self.cniVersion = cniVersion
    }

    /// Well-known codes (spec "Error codes"; 100 and up are plugin-specific).
    public static let incompatibleVersion: UInt = 1
    public static let unsupportedField: UInt = 2
    public static let containerUnknown: UInt = 3
    public static let invalidEnvironment: UInt = 4
    public static let ioFailure: UInt = 5
    public static let decodeFailure: UInt = 6
    public static let invalidNetworkConfig: UInt = 7
    public static let tryAgainLater: UInt = 11
    public static let pluginNotAvailable: UInt = 50
    public static let limitedConnectivity: UInt = 51
    /// libcni's catch-all for errors without a code of their own.
    public static let internalError: UInt = 999

    public var description: String {
        var text = "CNI error \(code) (\(CNIError.codeName(code))): \(msg)"
        if !details.isEmpty { text += ": \(details)" }
        return text
    }

    public static func codeName(_ code: UInt) -> String {
        switch code {
        case incompatibleVersion: return "incompatible CNI version"
        case unsupportedField: return "unsupported field in network configuration"
        case containerUnknown: return "container unknown or does not exist"
        case invalidEnvironment: return "invalid necessary environment variables"
        case ioFailure: return "I/O failure"
        case decodeFailure: return "failed to decode content"
        case invalidNetworkConfig: return "invalid network config"
        case tryAgainLater: return "try again later"
        case pluginNotAvailable: return "plugin not available"
        case limitedConnectivity: return "plugin not available, existing containers may have limited connectivity"
        case internalError: return "internal error"
        default: return code >= 100 ? "plugin-specific error" : "reserved code"
        }
    }

    public var json: JSON {
        var object = JSONObject([("cniVersion", .string(cniVersion)), ("code", .int(Int64(code))), ("msg", .string(msg))])
        if !details.isEmpty { object["details"] = .string(details) }
        return .object(object)
    }

    /// Reads a plugin's error output; nil when it is not the spec's error object.
    public init?(json: JSON) {
        guard let code = json["code"]?.intValue, code >= 0 else { return nil }
        self.code = UInt(code)
        self.msg = json["msg"]?.stringValue ?? ""
        self.details = json["details"]?.stringValue ?? ""
        self.cniVersion = json["cniVersion"]?.stringValue ?? ""
    }

    // Shorthands for plugin code.
    public static func config(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: invalidNetworkConfig, msg: msg, details: details)
    }

    public static func environment(_ msg: String) -> CNIError {
        CNIError(code: invalidEnvironment, msg: msg)
    }

    public static func io(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: ioFailure, msg: msg, details: details)
    }

    public static func generic(_ msg: String, details: String = "") -> CNIError {
        CNIError(code: internalError, msg: msg, details: details)
    }
}

/// Spec versions and their ordering.
public enum CNIVersion {
    public static let current = "1.1.0"
    /// What our plugins and runtime speak. 0.1.0/0.2.0 had a different result shape
    /// (ip4/ip6 objects) that no maintained plugin emits any more.
    public static let supported = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

    /// Parses `major.minor.patch`; nil when malformed.
    public static func parse(_ version: String) -> (Int, Int, Int)? {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let major = Int(parts[0]), let minor = Int(parts[1]), let patch = Int(parts[2]),
              major >= 0, minor >= 0, patch >= 0 else { return nil }
        return (major, minor, patch)
    }

    /// `a >= b` by semantic version; malformed versions compare as 0.0.0.
    public static func atLeast(_ a: String, _ b: String) -> Bool {
        let left = parse(a) ?? (0, 0, 0), right = parse(b) ?? (0, 0, 0)
        return left >= right
    }

    /// Results before 1.0.0 carry `version` on each IP; 1.1.0 added interface/route fields.
    public static func resultHasIPVersion(_ version: String) -> Bool { !atLeast(version, "1.0.0") }
}
