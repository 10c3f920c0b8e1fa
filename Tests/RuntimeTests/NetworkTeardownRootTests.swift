import Glibc
import LinuxPrimitives
import Synchronization
import Testing
@testable import Runtime

/// Counts what the runtime asks of pod networking (a recording fake: the CNI side is tested
/// for real in NetworkingTests; this checks how often the runtime calls it).
final class CountingNetwork: PodNetwork, @unchecked Sendable {
    let setUps = Mutex(0), tearDowns = Mutex(0)
    let failSetUp: Bool
    init(failSetUp: Bool = false) { self.failSetUp = failSetUp }

    func setUp(_ request: PodNetworkRequest) async throws -> PodNetworkStatus {
        setUps.withLock { $0 += 1 }
        if failSetUp { throw RuntimeError(.failed, "network refused") }
        return PodNetworkStatus(ips: ["10.99.0.2"], interfaceName: "eth0")
    }
    func tearDown(_ request: PodNetworkRequest) async throws { tearDowns.withLock { $0 += 1 } }
    func check(_ request: PodNetworkRequest) async -> Bool { true }
    func garbageCollect(valid: [PodNetworkRequest]) async {}
    func readiness() async -> String? { nil }
}

@Suite(.enabled(if: TestEnv.isRoot && TestEnv.hasBusybox, "needs root and busybox-static"), .serialized)
struct NetworkTeardownRootTests {
    /// One CNI DEL chain per sandbox whether the caller stops before removing (CRI, kubelet)
    /// or removes at once; a failed creation still tears down what ADD may have made.
    @Test(arguments: [true, false])
    func networkIsTornDownOncePerSandbox(stopFirst: Bool) async throws {
        let network = CountingNetwork()
        let f = try RuntimeFixture(network: network)
        do {
            let sid = try await f.runtime.runPodSandbox(f.sandboxConfig("net-once"))
            #expect(try f.runtime.podSandboxStatus(sid).network?.ips == ["10.99.0.2"])
            if stopFirst { try await f.runtime.stopPodSandbox(sid) }
            try await f.runtime.removePodSandbox(sid)
            #expect(network.setUps.withLock { $0 } == 1)
            #expect(network.tearDowns.withLock { $0 } == 1)
        } catch {
            Issue.record(error)
        }
        await f.tearDown()
    }

    @Test func failedSetUpIsTornDown() async throws {
        let network = CountingNetwork(failSetUp: true)
        let f = try RuntimeFixture(network: network)
        await #expect(throws: (any Error).self) { try await f.runtime.runPodSandbox(f.sandboxConfig("net-fail")) }
        #expect(network.tearDowns.withLock { $0 } == 1)
        #expect(f.runtime.listPodSandboxes().isEmpty)
        await f.tearDown()
    }
}
