import AsyncHTTPClient
import Foundation
import Glibc
import KubeAPI
import LinuxPrimitives
import NIOCore
import Runtime

/// Runs one probe or lifecycle-hook action against a running container, as kubelet does:
/// exec in the container, HTTP GET to the pod IP (2xx/3xx succeed), or a TCP connect.
struct ProbeRunner: Sendable {
    let runtime: RuntimeService
    let http: HTTPClient

    enum Outcome: Sendable, Equatable {
        case success
        case failure(String)
    }

    func exec(_ command: [String], containerID: String, timeoutSeconds: Int64) async -> Outcome {
        guard !command.isEmpty else { return .failure("exec: empty command") }
        let runtime = self.runtime
        do {
            let (code, output) = try await DetachedThread.run { () throws -> (Int32, String) in
                let pipe = try FileDescriptor.pipe()
                let devnull = try FileDescriptor.open("/dev/null", O_RDONLY)
                defer { devnull.close() }
                let code: Int32
                do {
                    code = try runtime.exec(containerID, command: command, stdin: devnull.rawValue, stdout: pipe.write.rawValue,
                                            stderr: pipe.write.rawValue, timeoutSeconds: timeoutSeconds)
                } catch {
                    pipe.read.close()
                    pipe.write.close()
                    throw error
                }
                pipe.write.close()
                let out = (try? pipe.read.read(upTo: 4096)) ?? []
                pipe.read.close()
                return (code, String(decoding: out, as: UTF8.self))
            }
            return code == 0 ? .success : .failure("command \(command) exited with \(code): \(output.prefix(200))")
        } catch {
            return .failure("\(error)")
        }
    }

    func httpGet(_ action: HTTPGetAction, host: String, port: Int, timeoutSeconds: Int64) async -> Outcome {
        let scheme = (action.scheme ?? "HTTP").lowercased()
        let target = action.host ?? host
        var path = action.path ?? "/"
        if !path.hasPrefix("/") { path = "/" + path }
        var request = HTTPClientRequest(url: "\(scheme)://\(target.contains(":") ? "[\(target)]" : target):\(port)\(path)")
        request.headers.add(name: "User-Agent", value: "kube-probe/1.32")
        request.headers.add(name: "Accept", value: "*/*")
        for h in action.httpHeaders ?? [] { request.headers.replaceOrAdd(name: h.name, value: h.value) }
        do {
            let response = try await http.execute(request, timeout: .seconds(max(1, timeoutSeconds)))
            _ = try? await response.body.collect(upTo: 10 * 1024)
            let code = Int(response.status.code)
            return (200..<400).contains(code) ? .success : .failure("HTTP probe failed with statuscode: \(code)")
        } catch {
            return .failure("Get \"\(scheme)://\(target):\(port)\(path)\": \(error)")
        }
    }

    func tcp(host: String, port: Int, timeoutSeconds: Int64) async -> Outcome {
        do {
            try await DetachedThread.run { try TCPConnect.check(host: host, port: port, timeoutMilliseconds: Int32(max(1, timeoutSeconds) * 1000)) }
            return .success
        } catch {
            return .failure("dial tcp \(host):\(port): \(error)")
        }
    }

    /// Resolves a named port (`http`) through the container's ports.
    static func port(_ value: IntOrString, in container: Container) -> Int? {
        switch value {
        case .int(let p): return p
        case .string(let name):
            if let p = Int(name) { return p }
            return (container.ports ?? []).first { $0.name == name }.map { Int($0.containerPort) }
        }
    }
}
