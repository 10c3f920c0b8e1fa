import GRPCCore
import Images
import LinuxPrimitives
import Runtime
import Streaming

/// Maps what the runtime, the image store and the streaming server throw onto gRPC status
/// codes as CRI clients read them: NotFound for unknown ids (kubelet and crictl test for
/// it), InvalidArgument for bad requests, FailedPrecondition for wrong states,
/// DeadlineExceeded for an ExecSync timeout.
enum CRIErrors {
    static func rpcError(_ error: any Error, _ what: String) -> RPCError {
        if let rpc = error as? RPCError { return rpc }
        let message = what.isEmpty ? "\(error)" : "\(what): \(error)"
        switch error {
        case let e as Runtime.RuntimeError:
            switch e.kind {
            case .notFound: return RPCError(code: .notFound, message: message)
            case .invalid: return RPCError(code: .invalidArgument, message: message)
            case .failedPrecondition: return RPCError(code: .failedPrecondition, message: message)
            case .failed: return RPCError(code: .unknown, message: message)
            }
        case is ImageNotFound:
            return RPCError(code: .notFound, message: message)
        case let e as ImageError:
            switch e {
            case .notFound: return RPCError(code: .notFound, message: message)
            case .registry(_, let status, _) where status == 404: return RPCError(code: .notFound, message: message)
            case .registry(_, let status, _) where status == 401 || status == 403: return RPCError(code: .permissionDenied, message: message)
            case .invalidReference, .ambiguous: return RPCError(code: .invalidArgument, message: message)
            case .context(_, let inner): return rpcError(inner, what)
            default: return RPCError(code: .unknown, message: message)
            }
        case is ExecClient.Timeout:
            return RPCError(code: .deadlineExceeded, message: message)
        case let e as StreamingError:
            return RPCError(code: e.status == 404 ? .notFound : .resourceExhausted, message: message)
        case is CancellationError:
            return RPCError(code: .cancelled, message: message)
        default:
            return RPCError(code: .unknown, message: message)
        }
    }

    static func invalid(_ message: String) -> RPCError { RPCError(code: .invalidArgument, message: message) }
    static func notFound(_ message: String) -> RPCError { RPCError(code: .notFound, message: message) }

    /// Runs `body`, turning its errors into gRPC statuses that say what was being done.
    static func mapping<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw rpcError(error, what) }
    }
}
