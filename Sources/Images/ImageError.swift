/// Everything that can go wrong with images, each case naming the thing at fault (the
/// reference, the archive member, the layer entry, the digest) so an operator can act on it.
public enum ImageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A reference that does not follow the distribution reference grammar.
    case invalidReference(String, reason: String)
    /// No image in the store matches this reference or id.
    case notFound(String)
    /// An id prefix that matches more than one image.
    case ambiguous(String)
    /// A layer tar entry that would land outside the layer directory (or is otherwise refused).
    case unsafeEntry(entry: String, reason: String)
    /// A layer tar entry the unpacker cannot represent (sparse files, unknown types).
    case unsupportedEntry(entry: String, reason: String)
    /// A malformed tar or compressed stream; `context` says where (header, entry, offset).
    case corruptData(context: String, reason: String)
    /// Content whose digest is not what the manifest, config or file name promised.
    case digestMismatch(what: String, expected: String, actual: String)
    /// An archive or manifest that is not a valid OCI layout / docker-archive.
    case invalidArchive(path: String, reason: String)
    /// A JSON document (manifest, config, index) missing a required field or malformed.
    case invalidDocument(what: String, reason: String)
    /// A media type, compression or platform we do not handle.
    case unsupported(String)
    /// A pin holder name that cannot be used as a file name.
    case invalidHolder(String)
    /// A registry answered with an error.
    case registry(url: String, status: Int, message: String)
    /// A step of a layer or import, with the underlying error, e.g. which layer failed.
    indirect case context(String, ImageError)
    /// A system call failed; the text carries call, errno and path.
    case system(String)

    public var description: String {
        switch self {
        case .invalidReference(let ref, let reason): return "invalid image reference \"\(ref)\": \(reason)"
        case .notFound(let ref): return "image \"\(ref)\" not found"
        case .ambiguous(let ref): return "image id prefix \"\(ref)\" matches more than one image"
        case .unsafeEntry(let entry, let reason): return "layer entry \"\(entry)\" refused: \(reason)"
        case .unsupportedEntry(let entry, let reason): return "layer entry \"\(entry)\" unsupported: \(reason)"
        case .corruptData(let context, let reason): return "\(context): \(reason)"
        case .digestMismatch(let what, let expected, let actual):
            return "\(what): digest mismatch: expected \(expected), got \(actual)"
        case .invalidArchive(let path, let reason): return "\(path): \(reason)"
        case .invalidDocument(let what, let reason): return "\(what): \(reason)"
        case .unsupported(let what): return "unsupported: \(what)"
        case .invalidHolder(let holder): return "invalid pin holder \"\(holder)\": use letters, digits, '.', '_', '-'"
        case .registry(let url, let status, let message):
            return status == 0 ? "registry \(url): \(message)" : "registry \(url): HTTP \(status): \(message)"
        case .context(let context, let inner): return "\(context): \(inner)"
        case .system(let text): return text
        }
    }

    /// The innermost error, without the `context` wrappers (what tests match on).
    public var root: ImageError {
        if case .context(_, let inner) = self { return inner.root }
        return self
    }

    /// Wraps any error thrown by `body` with `context` (system errors become `.system`).
    @discardableResult
    static func wrapping<T>(_ context: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ImageError {
            throw ImageError.context(context(), error)
        } catch {
            throw ImageError.context(context(), .system("\(error)"))
        }
    }
}
