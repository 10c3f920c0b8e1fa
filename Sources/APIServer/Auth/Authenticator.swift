import Foundation

/// Who is asking, as upstream's `user.Info`.
public struct UserInfo: Sendable, Equatable {
    public var name: String
    public var uid: String
    public var groups: [String]

    public init(name: String, uid: String = "", groups: [String]) {
        self.name = name
        self.uid = uid
        self.groups = groups
    }

    public var isAdmin: Bool { groups.contains("system:masters") }

    /// The node name when this is a node identity (`system:node:<name>` in `system:nodes`).
    public var nodeName: String? {
        guard groups.contains("system:nodes"), name.hasPrefix("system:node:") else { return nil }
        let n = String(name.dropFirst("system:node:".count))
        return n.isEmpty ? nil : n
    }

    /// Requests with no credentials at all, where one is allowed (reading `cluster-info`).
    public static let anonymous = UserInfo(name: "system:anonymous", groups: ["system:unauthenticated"])

    /// The identity the in-process controllers act as.
    public static let controllers = UserInfo(name: "system:kube-controller-manager", groups: ["system:masters", "system:authenticated"])
}

/// Bearer tokens (a kube-apiserver `--token-auth-file` plus the admin token), bootstrap tokens
/// (`<id>.<secret>`, checked against their Secret on every request, so deleting or expiring
/// one takes effect at once) and client certificates signed by our CA (CN = user, O =
/// groups). Anything else is 401: the one anonymous read (`cluster-info`) is decided by the handler.
public struct Authenticator: Sendable {
    public struct TokenEntry: Sendable, Equatable {
        public var token: String
        public var user: UserInfo
    }

    let tokens: [String: UserInfo]
    /// Reads a Secret of kube-system by name (bootstrap tokens); nil: none are accepted.
    let bootstrapSecret: (@Sendable (String) -> JSON?)?
    let clock: @Sendable () -> Date

    public init(tokens: [TokenEntry], bootstrapSecret: (@Sendable (String) -> JSON?)? = nil,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        var m: [String: UserInfo] = [:]
        for t in tokens { m[t.token] = t.user }
        self.tokens = m
        self.bootstrapSecret = bootstrapSecret
        self.clock = clock
    }

    public func authenticate(authorization: String?, clientCertificateDER: [UInt8]?) -> UserInfo? {
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let token = parts[1].trimmingCharacters(in: .whitespaces)
                if var u = tokens[token] ?? bootstrapUser(token) {
                    if !u.groups.contains("system:authenticated") { u.groups.append("system:authenticated") }
                    return u
                }
                return nil  // a wrong token is a 401 even when a certificate was sent, as upstream
            }
        }
        if let der = clientCertificateDER, let id = CertificateAuthority.identity(fromDER: der) {
            return UserInfo(name: id.user, groups: id.groups + ["system:authenticated"])
        }
        return nil
    }

    func bootstrapUser(_ text: String) -> UserInfo? {
        guard let token = BootstrapToken(text), let lookup = bootstrapSecret, let secret = lookup(token.secretName) else { return nil }
        return token.user(secretObject: secret, now: clock())
    }

    /// Parses a token file: `token,user,uid,"group1,group2"` per line, as kube-apiserver reads it.
    public static func parseTokenFile(_ text: String, path: String) throws -> [TokenEntry] {
        var out: [TokenEntry] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = csvFields(line)
            guard fields.count >= 3, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw APIError.badRequest("\(path):\(n + 1): want token,user,uid[,\"group1,group2\"], got \(fields.count) field(s)")
            }
            let groups = fields.count > 3 ? fields[3].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : []
            out.append(TokenEntry(token: fields[0], user: UserInfo(name: fields[1], uid: fields[2], groups: groups)))
        }
        return out
    }

    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = []
        var cur = ""
        var quoted = false
        var it = line.makeIterator()
        while let c = it.next() {
            if c == "\"" { quoted.toggle(); continue }
            if c == ",", !quoted { fields.append(cur); cur = ""; continue }
            cur.append(c)
        }
        fields.append(cur)
        return fields
    }
}
