/// An image reference normalised the way containerd's CRI plugin and the docker CLI do it:
/// `busybox` → `docker.io/library/busybox:latest`, `user/app` → `docker.io/user/app:latest`,
/// other registries kept as given (`bars.local/busybox`, `127.0.0.1:5000/x`), `name@sha256:…`
/// pinned by digest (a tag next to a digest is dropped, as `ParseDockerRef` does), so that
/// every spelling of one image finds the same record.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible {
    /// Registry host with optional port, e.g. `docker.io`, `127.0.0.1:5000`.
    public let domain: String
    /// Repository path inside the registry, e.g. `library/busybox`.
    public let path: String
    /// Tag, nil when the reference is by digest.
    public let tag: String?
    /// Manifest digest when pinned.
    public let digest: Digest?

    /// `domain/path`, the REPOSITORY column of `image ls`.
    public var repository: String { domain + "/" + path }

    /// The normalised reference: `repository:tag` or `repository@sha256:…`.
    public var description: String {
        if let digest { return repository + "@" + digest.description }
        return repository + ":" + (tag ?? "latest")
    }

    /// The host to contact for the distribution API (docker.io's API lives elsewhere).
    public var registryHost: String { domain == "docker.io" ? "registry-1.docker.io" : domain }

    public init(domain: String, path: String, tag: String?, digest: Digest?) {
        self.domain = domain
        self.path = path
        self.tag = digest == nil ? (tag ?? "latest") : nil
        self.digest = digest
    }

    /// Parses and normalises; errors name the reference and the rule it breaks.
    public init(parsing text: String) throws {
        func fail(_ reason: String) -> ImageError { .invalidReference(text, reason: reason) }
        guard !text.isEmpty else { throw fail("empty") }
        guard text.utf8.count <= 512, !text.contains(where: { $0.isWhitespace }) else {
            throw fail("contains whitespace or is too long")
        }
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            do { digest = try Digest(parsing: String(rest[rest.index(after: at)...])) } catch {
                throw fail("bad digest: \(error)")
            }
            rest = rest[..<at]
        }
        var tag: String?
        // A tag is after the last ':' that comes after the last '/' (a port is before a '/').
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let candidate = String(rest[rest.index(after: colon)...])
            guard ImageReference.isValidTag(candidate) else { throw fail("invalid tag \"\(candidate)\"") }
            tag = candidate
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw fail("missing repository name") }
        var domain = "docker.io"
        var path = String(rest)
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.contains(where: { $0.isUppercase }) {
                domain = String(first)
                path = String(rest[rest.index(after: slash)...])
            }
        }
        if domain == "index.docker.io" { domain = "docker.io" }
        guard ImageReference.isValidDomain(domain) else { throw fail("invalid registry host \"\(domain)\"") }
        if domain == "docker.io" && !path.contains("/") { path = "library/" + path }
        guard path.utf8.count + domain.utf8.count < 256 else { throw fail("name longer than 255 characters") }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            guard ImageReference.isValidPathComponent(component) else {
                if component.contains(where: { $0.isUppercase }) { throw fail("repository name must be lowercase") }
                throw fail("invalid repository path component \"\(component)\"")
            }
        }
        self.init(domain: domain, path: path, tag: tag, digest: digest)
    }

    /// The same repository with another tag (import names, `image tag`).
    public func withTag(_ tag: String) -> ImageReference {
        ImageReference(domain: domain, path: path, tag: tag, digest: nil)
    }

    /// The same repository pinned to a digest (repo digests).
    public func withDigest(_ digest: Digest) -> ImageReference {
        ImageReference(domain: domain, path: path, tag: nil, digest: digest)
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        func word(_ b: UInt8) -> Bool { isAlnum(b) || b == UInt8(ascii: "_") }
        guard word(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isValidPathComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var i = 0
        while i < bytes.count {
            if isLowerAlnum(bytes[i]) { i += 1; continue }
            var j = i
            while j < bytes.count, !isLowerAlnum(bytes[j]) { j += 1 }
            let separator = bytes[i..<j]
            let ok = separator.elementsEqual([UInt8(ascii: ".")]) || separator.elementsEqual([UInt8(ascii: "_")])
                || separator.elementsEqual([UInt8(ascii: "_"), UInt8(ascii: "_")])
                || separator.allSatisfy { $0 == UInt8(ascii: "-") }
            if !ok { return false }
            i = j
        }
        return true
    }

    /// Host labels (alphanumerics and inner hyphens) or a bracketed IPv6 literal, optional port.
    static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inner = host[host.index(after: host.startIndex)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.hasPrefix(":") else { return false }
            let port = host.dropFirst()
            return !port.isEmpty && port.allSatisfy(\.isNumber) && port.count <= 5
        }
        if let colon = host.lastIndex(of: ":") {
            let port = host[host.index(after: colon)...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isNumber) else { return false }
            host = host[..<colon]
        }
        guard !host.isEmpty else { return false }
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last),
                  bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") }) else { return false }
        }
        return true
    }
}

private func isLowerAlnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
private func isAlnum(_ b: UInt8) -> Bool { isLowerAlnum(b) || (b >= 65 && b <= 90) }
