import Foundation

/// Where a streaming request goes: a CRI token URL, or a kubelet path naming the pod.
enum StreamingRoute: Equatable {
    enum Verb: String {
        case exec, attach, portForward
    }

    /// `/exec/<token>`, `/attach/<token>`, `/portforward/<token>`.
    case token(Verb, String)
    /// `/exec/<ns>/<pod>[/<uid>]/<container>`, `/attach/...`, `/portForward/<ns>/<pod>[/<uid>]`.
    case pod(Verb, namespace: String, pod: String, uid: String?, container: String?)

    /// Parses the path of a request URI (query excluded); nil when it is no streaming path.
    static func parse(_ path: String) -> StreamingRoute? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map { String($0).removingPercentEncoding ?? String($0) }
        guard let first = parts.first else { return nil }
        let verb: Verb
        switch first {
        case "exec": verb = .exec
        case "attach": verb = .attach
        case "portforward", "portForward": verb = .portForward
        default: return nil
        }
        let rest = Array(parts.dropFirst())
        if rest.count == 1 { return .token(verb, rest[0]) }
        switch (verb, rest.count) {
        case (.portForward, 2): return .pod(verb, namespace: rest[0], pod: rest[1], uid: nil, container: nil)
        case (.portForward, 3): return .pod(verb, namespace: rest[0], pod: rest[1], uid: rest[2], container: nil)
        case (.exec, 3), (.attach, 3): return .pod(verb, namespace: rest[0], pod: rest[1], uid: nil, container: rest[2])
        case (.exec, 4), (.attach, 4): return .pod(verb, namespace: rest[0], pod: rest[1], uid: rest[2], container: rest[3])
        default: return nil
        }
    }
}

/// The query of a kubelet-style streaming request (`?command=sh&input=1&output=1&tty=1`, or
/// `stdin=true` as the API server's own parameters spell it; `port=80` for port forwarding).
struct StreamingQuery {
    var values: [(String, String)]

    init(_ query: String?) {
        values = (query ?? "").split(separator: "&").map { item in
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            return (decode(pair[0]), pair.count > 1 ? decode(pair[1]) : "")
        }
    }

    func all(_ name: String) -> [String] { values.filter { $0.0 == name }.map(\.1) }

    func flag(_ names: String...) -> Bool {
        names.contains { name in all(name).contains { $0 == "1" || $0.lowercased() == "true" } }
    }

    func execOptions(containerID: String) throws -> ExecOptions {
        let command = all("command")
        guard !command.isEmpty else { throw StreamingError(status: 400, "missing command (query parameter \"command\")") }
        let options = ExecOptions(containerID: containerID, command: command, stdin: flag("input", "stdin"),
                                  stdout: flag("output", "stdout"), stderr: flag("error", "stderr"), tty: flag("tty"))
        guard options.stdin || options.stdout || options.stderr else {
            throw StreamingError(status: 400, "you must specify at least 1 of stdin, stdout, stderr")
        }
        return options
    }

    func attachOptions(containerID: String) throws -> AttachOptions {
        let options = AttachOptions(containerID: containerID, stdin: flag("input", "stdin"), stdout: flag("output", "stdout"),
                                    stderr: flag("error", "stderr"), tty: flag("tty"))
        guard options.stdin || options.stdout || options.stderr else {
            throw StreamingError(status: 400, "you must specify at least 1 of stdin, stdout, stderr")
        }
        return options
    }

    /// `port=80&port=8080` or `port=80,8080`.
    func ports() throws -> [UInt16] {
        var ports: [UInt16] = []
        for value in all("port") {
            for text in value.split(separator: ",") {
                guard let port = UInt16(text), port > 0 else { throw StreamingError(status: 400, "invalid port \"\(text)\"") }
                ports.append(port)
            }
        }
        return ports
    }
}
