import Glibc
import LinuxPrimitives
import Logging

/// A swift-log handler for a daemon: one line per message on stderr. Under systemd (stderr is
/// the journal stream) each line starts with a `<N>` syslog priority, so `journalctl -p warning`
/// filters by level, and carries no timestamp (the journal adds its own). Elsewhere lines start
/// with an RFC 3339 UTC timestamp and the level name, for people reading a terminal or a file.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public let label: String
    /// Whether lines carry `<N>` priority prefixes (journal) or timestamps (anything else).
    public let journalPrefixes: Bool
    private let output: Int32

    /// - Parameters:
    ///   - journalPrefixes: defaults to whether `output` is the journal stream.
    ///   - output: the descriptor written to (stderr unless a test passes a pipe).
    public init(label: String, logLevel: Logger.Level = .info, journalPrefixes: Bool? = nil,
                metadataProvider: Logger.MetadataProvider? = nil, output: Int32 = 2) {
        self.label = label
        self.logLevel = logLevel
        self.output = output
        self.metadataProvider = metadataProvider
        self.journalPrefixes = journalPrefixes ?? SystemdJournalStream.isJournal(output)
    }

    /// `LoggingSystem.bootstrap(JournalLogHandler.factory(level: .info))` in the CLI's entry point.
    public static func factory(level: Logger.Level = .info) -> @Sendable (String) -> any LogHandler {
        let journal = SystemdJournalStream.isJournal(2)
        return { label in JournalLogHandler(label: label, logLevel: level, journalPrefixes: journal) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// syslog(3) priorities: debug 7, info 6, notice 5, warning 4, err 3, crit 2.
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        let text = format(level: event.level, message: event.message.description, metadata: merged)
        _ = try? FileDescriptor(rawValue: output).writeAll(text)
    }

    /// The bytes written for one message (public for tests and for other sinks).
    public func format(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var body = label + ": " + message
        if !metadata.isEmpty {
            body += " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quoted("\($0.value)"))" }.joined(separator: " ")
        }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        if journalPrefixes {
            // journald splits at newlines: every line needs its own priority.
            let prefix = "<\(Self.syslogPriority(level))>"
            return lines.map { prefix + $0 }.joined(separator: "\n") + "\n"
        }
        let head = Self.timestamp() + " " + Self.levelName(level) + " "
        return head + lines.joined(separator: "\n    ") + "\n"
    }

    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .notice: return "notice"
        case .warning: return "warning"
        case .error: return "error"
        case .critical: return "critical"
        }
    }

    /// Values with spaces or quotes are quoted so `key=value` pairs stay parseable.
    static func quoted(_ value: String) -> String {
        if !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" }) { return value }
        var out = "\""
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out + "\""
    }

    /// `2026-11-25T04:39:54.746123Z`, from the realtime clock, without Foundation.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1000), 6))Z"
    }
}
