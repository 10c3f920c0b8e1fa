import Glibc
import LinuxPrimitives
import Logging
import Testing
@testable import AgentSupport

@Suite struct JournalLogHandlerTests {
    /// Logs through a real `Logger` into a pipe and returns what came out.
    func capture(journal: Bool?, level: Logger.Level = .trace, _ body: (inout Logger) -> Void) throws -> String {
        let (read, write) = try FileDescriptor.pipe()
        defer { read.close() }
        var logger = Logger(label: "swiftlet.test") { label in
            JournalLogHandler(label: label, logLevel: level, journalPrefixes: journal, output: write.rawValue)
        }
        body(&logger)
        write.close()
        return String(decoding: try read.readAll(), as: UTF8.self)
    }

    @Test func journalLinesCarrySyslogPrioritiesAndNoTimestamp() throws {
        let out = try capture(journal: true) { log in
            log.debug("d")
            log.info("pod started", metadata: ["pod": "default/web-1"])
            log.notice("n")
            log.warning("w")
            log.error("e")
            log.critical("c")
        }
        #expect(out == """
            <7>swiftlet.test: d
            <6>swiftlet.test: pod started pod=default/web-1
            <5>swiftlet.test: n
            <4>swiftlet.test: w
            <3>swiftlet.test: e
            <2>swiftlet.test: c

            """)
    }

    @Test func everyLineOfAMultiLineMessageKeepsItsPriority() throws {
        let out = try capture(journal: true) { $0.error("first\nsecond") }
        #expect(out == "<3>swiftlet.test: first\n<3>second\n")
    }

    @Test func terminalLinesCarryTimestampAndLevel() throws {
        let out = try capture(journal: false) { $0.warning("disk \"full\"", metadata: ["path": "/var/lib/x y"]) }
        let pattern = #/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z warning swiftlet.test: disk "full" path="\/var\/lib\/x y"\n$/#
        #expect(out.wholeMatch(of: pattern) != nil, "got: \(out)")
    }

    @Test func levelsBelowTheThresholdAreDropped() throws {
        let out = try capture(journal: true, level: .warning) { log in
            log.info("hidden")
            log.warning("shown")
        }
        #expect(out == "<4>swiftlet.test: shown\n")
    }

    @Test func journalStreamIsDetectedByDeviceAndInode() throws {
        let (read, write) = try FileDescriptor.pipe()
        defer { read.close(); write.close() }
        let id = try #require(SystemdJournalStream.identity(of: write.rawValue))
        #expect(SystemdJournalStream.isJournal(write.rawValue, journalStream: "\(id.device):\(id.inode)"))
        #expect(!SystemdJournalStream.isJournal(write.rawValue, journalStream: "\(id.device):\(id.inode + 1)"))
        #expect(!SystemdJournalStream.isJournal(write.rawValue, journalStream: nil))
        #expect(!SystemdJournalStream.isJournal(write.rawValue, journalStream: "garbage"))
        // The handler decides by itself when not told.
        setenv("JOURNAL_STREAM", "\(id.device):\(id.inode)", 1)
        defer { unsetenv("JOURNAL_STREAM") }
        #expect(JournalLogHandler(label: "x", output: write.rawValue).journalPrefixes)
        let other = try FileDescriptor.open("/dev/null", O_WRONLY)
        defer { other.close() }
        #expect(!JournalLogHandler(label: "x", output: other.rawValue).journalPrefixes)
    }
}
