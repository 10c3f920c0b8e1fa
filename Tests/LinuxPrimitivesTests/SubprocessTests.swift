import Testing
@testable import LinuxPrimitives

@Suite struct SubprocessTests {
    @Test func runFeedsStdinAndCollectsOutput() throws {
        let result = try Subprocess.run("/bin/sh", arguments: ["sh", "-c", "cat; echo err >&2; exit 3"],
                                        environment: ["PATH=/bin:/usr/bin"], input: Array("hello".utf8))
        #expect(result.status == .exited(3))
        #expect(String(decoding: result.stdout, as: UTF8.self) == "hello")
        #expect(String(decoding: result.stderr, as: UTF8.self) == "err\n")
    }

    @Test func largeInputAndOutputDoNotDeadlock() throws {
        let input = [UInt8](repeating: 65, count: 1 << 20)
        let result = try Subprocess.run("/bin/cat", arguments: ["cat"], environment: [], input: input)
        #expect(result.status.succeeded)
        #expect(result.stdout.count == input.count)
    }

    @Test func missingProgramIsAnError() {
        #expect(throws: SystemError.self) {
            _ = try Subprocess.run("/nonexistent/plugin", arguments: ["x"], environment: [])
        }
    }
}
