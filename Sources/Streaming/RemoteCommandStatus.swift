import Foundation

/// How a remote command ended, as kubelet reports it on the error stream.
enum RemoteCommandOutcome: Equatable {
    case success
    case exitCode(Int32)
    case failure(String)

    /// The bytes for the error stream; nil when nothing is sent (success in the text format).
    func encoded(_ format: StatusFormat) -> [UInt8]? {
        switch format {
        case .text:
            switch self {
            case .success: return nil
            case .exitCode(let code): return Array("command terminated with non-zero exit code: exit status \(code)".utf8)
            case .failure(let message): return Array(message.utf8)
            }
        case .json:
            return Array(jsonStatus.utf8)
        }
    }

    /// A `metav1.Status` in the shape kubectl reads (`NonZeroExitCode` with an `ExitCode` cause).
    var jsonStatus: String {
        switch self {
        case .success:
            return #"{"metadata":{},"status":"Success"}"#
        case .exitCode(let code):
            let message = "command terminated with non-zero exit code: exit status \(code)"
            return #"{"metadata":{},"status":"Failure","message":"# + Self.quoted(message)
                + #","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":""# + String(code) + #""}]}}"#
        case .failure(let message):
            let text = "Internal error occurred: " + message
            return #"{"metadata":{},"status":"Failure","message":"# + Self.quoted(text)
                + #","reason":"InternalError","details":{"causes":[{"message":"# + Self.quoted(message) + #"}]},"code":500}"#
        }
    }

    static func quoted(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
