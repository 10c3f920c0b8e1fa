/// One `WWW-Authenticate` challenge (RFC 7235): a scheme and its parameters, e.g.
/// `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`.
struct AuthChallenge: Equatable {
    /// Lowercased scheme: `basic` or `bearer` (others are ignored).
    var scheme: String
    var parameters: [String: String]

    /// Parses a header value that may hold several challenges.
    static func parse(_ header: String) -> [AuthChallenge] {
        var challenges: [AuthChallenge] = []
        var scanner = Scanner(Array(header.utf8))
        while true {
            scanner.skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\t") }
            let scheme = scanner.token()
            if scheme.isEmpty { break }
            var challenge = AuthChallenge(scheme: scheme.lowercased(), parameters: [:])
            // Parameters: name=value pairs until the next bare token (the next scheme).
            while true {
                scanner.skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\t") }
                let mark = scanner.index
                let name = scanner.token()
                scanner.skip { $0 == UInt8(ascii: " ") }
                guard !name.isEmpty, scanner.consume(UInt8(ascii: "=")) else {
                    scanner.index = mark
                    break
                }
                scanner.skip { $0 == UInt8(ascii: " ") }
                challenge.parameters[name.lowercased()] = scanner.peek == UInt8(ascii: "\"") ? scanner.quoted() : scanner.token()
            }
            challenges.append(challenge)
        }
        return challenges
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skip(_ predicate: (UInt8) -> Bool) {
            while let b = peek, predicate(b) { index += 1 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        /// An RFC 7230 token (also accepting `/`, `:` as some registries send unquoted URLs).
        mutating func token() -> String {
            let start = index
            while let b = peek, b > 32, b < 127, b != UInt8(ascii: ","), b != UInt8(ascii: "="), b != UInt8(ascii: "\"") {
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func quoted() -> String {
            index += 1
            var out: [UInt8] = []
            while let b = peek {
                index += 1
                if b == UInt8(ascii: "\\"), let next = peek {
                    out.append(next)
                    index += 1
                } else if b == UInt8(ascii: "\"") {
                    break
                } else {
                    out.append(b)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
