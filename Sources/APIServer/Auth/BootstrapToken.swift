import Foundation

/// Bootstrap tokens, as kubeadm makes them and kube-apiserver's bootstrap token authenticator
/// checks them: `<id>.<secret>` (`[a-z0-9]{6}.[a-z0-9]{16}`), kept in a Secret
/// `kube-system/bootstrap-token-<id>` of type `bootstrap.kubernetes.io/token`. A valid token
/// is the user `system:bootstrap:<id>` in `system:bootstrappers` (plus its extra groups): just
/// enough to ask for a node client certificate.
public struct BootstrapToken: Sendable, Equatable {
    public let id: String
    public let secret: String

    public static let secretType = "bootstrap.kubernetes.io/token"
    public static let namespace = "kube-system"
    public static let group = "system:bootstrappers"

    public var text: String { id + "." + secret }
    public var secretName: String { "bootstrap-token-" + id }

    /// Parses `<id>.<secret>`; nil when the text is not of that form.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 6, parts[1].count == 16,
              (parts[0] + parts[1]).allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) })
        else { return nil }
        id = String(parts[0])
        secret = String(parts[1])
    }

    /// A fresh random token.
    public static func generate() -> BootstrapToken {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var rng = SystemRandomNumberGenerator()
        func random(_ n: Int) -> String { String((0..<n).map { _ in alphabet[Int(rng.next(upperBound: UInt(alphabet.count)))] }) }
        // Both parts come from the alphabet the parser accepts.
        return BootstrapToken(random(6) + "." + random(16)) ?? BootstrapToken(unchecked: random(6), random(16))
    }

    private init(unchecked id: String, _ secret: String) {
        self.id = id
        self.secret = secret
    }

    /// The Secret's fields that make this token valid until `expiration` (nil: forever), as
    /// kubeadm writes them (plain text: `stringData`, or base64 each for `data`).
    public func secretData(expiration: Date?, description: String, extraGroups: [String] = []) -> [String: String] {
        var data: [String: String] = [
            "token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
            "description": description,
        ]
        if let expiration { data["expiration"] = Timestamp.format(expiration) }
        if !extraGroups.isEmpty { data["auth-extra-groups"] = extraGroups.joined(separator: ",") }
        return data
    }

    /// The whole Secret, values base64 in `data` as the API stores them.
    func secretObject(expiration: Date?, description: String, extraGroups: [String] = []) -> JSON {
        let data = secretData(expiration: expiration, description: description, extraGroups: extraGroups)
        var encoded = JSONObject()
        for key in data.keys.sorted() { encoded[key] = .string(Data((data[key] ?? "").utf8).base64EncodedString()) }
        return .obj([
            "apiVersion": "v1", "kind": "Secret",
            "metadata": .obj(["name": .string(secretName), "namespace": .string(Self.namespace)]),
            "type": .string(Self.secretType),
            "data": .object(encoded),
        ])
    }

    /// The identity this token proves, given its Secret (nil if the Secret does not make it
    /// valid at `now`: wrong type, id or secret, not for authentication, expired, being deleted).
    public func user(secretObject s: JSON, now: Date) -> UserInfo? {
        guard s["type"]?.string == Self.secretType, s.deletionTimestamp == nil else { return nil }
        func field(_ k: String) -> String? {
            guard let b64 = s["data"]?[k]?.string, let d = Data(base64Encoded: b64) else { return nil }
            return String(decoding: d, as: UTF8.self)
        }
        guard field("token-id") == id, let stored = field("token-secret"), Self.constantTimeEqual(stored, secret),
              field("usage-bootstrap-authentication") == "true"
        else { return nil }
        if let exp = field("expiration") {
            guard let date = Timestamp.parse(exp), date > now else { return nil }
        }
        var groups = [Self.group]
        for g in (field("auth-extra-groups") ?? "").split(separator: ",") {
            let name = g.trimmingCharacters(in: .whitespaces)
            // Upstream accepts only groups under system:bootstrappers: a token cannot claim system:masters.
            if name.hasPrefix(Self.group + ":"), !groups.contains(name) { groups.append(name) }
        }
        return UserInfo(name: "system:bootstrap:" + id, groups: groups)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
