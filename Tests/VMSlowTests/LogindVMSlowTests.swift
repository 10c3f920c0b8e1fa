import Foundation
import Testing

/// The logind delay inhibitor against real systemd-logind (issue 8's graceful node shutdown):
/// the inhibitor tests run inside the VM from this package's own test bundle, then a real
/// `systemctl poweroff` waits for our lock before the VM goes down. One boot.
@Suite("LogindVMSlowTests", .enabled(if: VMHarness.available, VMHarness.skipMessage))
struct LogindVMSlowTests {
    @Test("delay lock listed by logind; PrepareForShutdown on poweroff; shutdown waits for release")
    func inhibitorAndPoweroff() async throws {
        let bundle = try #require(VMHarness.builtProduct("swiftletPackageTests.xctest"), "test bundle not found beside the tests")
        let run = try await VMHarness.run(scenario: "logind", binaries: [bundle])
        let inner = run.text("out/inhibitor.log")
        let marker = run.keyValues("out/poweroff-marker")
        var checks: [VMCheck] = [
            VMCheck(run.exitCode == 0, "run.sh exit \(run.exitCode)"),
            VMCheck(run.fact("logind_active") == "active", "systemd-logind active"),
            VMCheck(run.fact("inhibitor_rc") == "0", "inner inhibitor tests exit 0"),
            // The poweroff: the signal came, the host waited while we held the lock, then went down.
            VMCheck(marker["event"] == "prepare-for-shutdown", "PrepareForShutdown(true) received: \(run.text("out/poweroff.log"))"),
            VMCheck(marker["poweroff_job_while_held"] == "0", "no poweroff job while the delay lock was held"),
            VMCheck(marker["released"] == "1", "lock released after the marker was written"),
            VMCheck(run.fact("poweroff_returned") == nil, "systemctl poweroff took the VM down"),
        ]
        // Each inhibitor test ran (was not skipped) and passed inside the VM.
        for name in ["delayLockIsListedByLogindUntilReleased", "inhibitDelayMaxCanBeRaisedForLongGracePeriods",
                     "callsLogindRefusesAreErrorsWithTheirName"] {
            checks.append(VMCheck(inner.contains("Test \(name)() passed"), "inner test \(name) passed"))
        }
        VMCheck.expectAll(checks, run, detail: inner)
    }
}
