import Foundation
import Glibc
import LinuxPrimitives
import LinuxSecurity
import Testing
@testable import Runtime

/// What a container is allowed to do, checked from inside it.
@Suite(.serialized, .enabled(if: TestEnv.isRoot && TestEnv.hasBusybox, "needs root and /bin/busybox (busybox-static)"))
struct SecurityRootTests {
    /// Runs `script` in a fresh container and returns (exit code, log text).
    func run(_ f: RuntimeFixture, _ script: String, security: ContainerSecurity = ContainerSecurity(),
             seccompDefault: Bool = false) async throws -> (Int32, String) {
        let sb = f.sandboxConfig("sec")
        let sid = try await f.runtime.runPodSandbox(sb)
        let c = try f.runtime.createContainer(sandboxID: sid, ContainerConfig(
            name: "c", image: "busybox", command: ["/bin/sh", "-c", script], logPath: "c/0.log", security: security))
        try f.runtime.startContainer(c)
        _ = await f.eventually(10) { try f.runtime.containerStatus(c).state == .exited }
        _ = await f.eventually(1) { f.log(sb, "c/0.log").contains("END") }
        let status = try f.runtime.containerStatus(c)
        let log = f.log(sb, "c/0.log").split(separator: "\n").map { line -> String in
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            return parts.count == 4 ? String(parts[3]) : String(line)
        }.joined(separator: "\n")
        try await f.runtime.removePodSandbox(sid)
        return (status.exitCode, log)
    }

    @Test func exactlyTheFourteenDefaultCapabilities() async throws {
        let f = try RuntimeFixture()
        let (code, log) = try await run(f, "grep -E '^Cap(Eff|Bnd|Prm|Inh|Amb)' /proc/self/status; echo END")
        await f.tearDown()
        #expect(code == 0)
        let expected = try Capabilities.mask(Capabilities.defaultSet)
        #expect(Capabilities.names(expected).count == 14)
        for field in ["CapEff", "CapBnd", "CapPrm"] {
            let hex = log.split(separator: "\n").first { $0.hasPrefix(field) }?.split(separator: "\t").last.map(String.init) ?? ""
            #expect(UInt64(hex, radix: 16) == expected, "\(field) = \(hex)")
        }
        for field in ["CapInh", "CapAmb"] {
            let hex = log.split(separator: "\n").first { $0.hasPrefix(field) }?.split(separator: "\t").last.map(String.init) ?? ""
            #expect(UInt64(hex, radix: 16) == 0, "\(field) = \(hex)")
        }
    }

    @Test func capabilityAddAndDropAreHonoured() async throws {
        let f = try RuntimeFixture()
        let (_, log) = try await run(f, "grep '^CapEff' /proc/self/status; echo END",
                                     security: ContainerSecurity(addCapabilities: ["NET_ADMIN"], dropCapabilities: ["CHOWN", "KILL"]))
        await f.tearDown()
        let hex = log.split(separator: "\n").first { $0.hasPrefix("CapEff") }?.split(separator: "\t").last.map(String.init) ?? ""
        let caps = Set(Capabilities.names(UInt64(hex, radix: 16) ?? 0))
        #expect(caps.contains("NET_ADMIN"))
        #expect(!caps.contains("CHOWN") && !caps.contains("KILL"))
        #expect(caps.count == 13)
    }

    @Test func runtimeDefaultSeccompRefusesUnshareAndMount() async throws {
        let f = try RuntimeFixture()
        let script = "unshare -n true; echo unshare=$?; mount -t tmpfs none /tmp; echo mount=$?; echo hello; echo END"
        let (_, confined) = try await run(f, script, security: ContainerSecurity(seccomp: .runtimeDefault))
        let (_, unconfined) = try await run(f, "grep Seccomp: /proc/self/status; echo END", security: ContainerSecurity(seccomp: .unconfined))
        let (_, defaulted) = try await run(f, "grep Seccomp: /proc/self/status; echo END")
        await f.tearDown()
        #expect(confined.contains("unshare=1"))
        #expect(confined.contains("unshare(0x40000000): Operation not permitted"))
        #expect(confined.contains("mount=1") || confined.contains("mount=255"))
        #expect(confined.contains("Operation not permitted"))
        #expect(confined.contains("hello"))
        #expect(unconfined.contains("Seccomp:\t0"))
        #expect(defaulted.contains("Seccomp:\t0"))
        let g = try RuntimeFixture(seccompDefault: true)
        let (_, viaFlag) = try await run(g, "grep Seccomp: /proc/self/status; echo END")
        await g.tearDown()
        #expect(viaFlag.contains("Seccomp:\t2"))
    }

    @Test func maskedAndReadOnlyPaths() async throws {
        let f = try RuntimeFixture()
        let script = """
        cat /proc/keys | wc -c; cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l;
        (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo sys-writable || echo sys-readonly;
        touch /sys/x 2>/dev/null && echo sysfs-writable || echo sysfs-readonly; echo END
        """
        let (_, log) = try await run(f, script)
        await f.tearDown()
        let lines = log.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.prefix(3) == ["0", "0", "0"], "masked files read empty, masked dirs are empty: \(lines)")
        #expect(lines.contains("sys-readonly"))
        #expect(lines.contains("sysfs-readonly"))
    }

    @Test func readOnlyRootAndRunAsUser() async throws {
        let f = try RuntimeFixture()
        let (_, ro) = try await run(f, "touch /rootfile && echo root-writable || echo root-readonly; touch /tmp/x && echo tmp-writable || echo tmp-readonly; echo END",
                                    security: ContainerSecurity(readOnlyRootfs: true))
        let (_, user) = try await run(f, "id; grep CapEff /proc/self/status; echo END",
                                      security: ContainerSecurity(runAsUser: 1000, supplementalGroups: [3000]))
        let (_, group) = try await run(f, "id -u; id -g; echo END", security: ContainerSecurity(runAsUser: 4242, runAsGroup: 4343))
        let (_, nnp) = try await run(f, "grep NoNewPrivs /proc/self/status; echo END", security: ContainerSecurity(noNewPrivileges: true))
        await f.tearDown()
        #expect(ro.contains("root-readonly"))
        #expect(ro.contains("tmp-readonly"))
        #expect(user.contains("uid=1000(app) gid=1000(app)"))
        #expect(user.contains("2000(extra)") && user.contains("3000"))
        #expect(user.contains("CapEff:\t0000000000000000"))
        #expect(group.contains("4242\n4343"))
        #expect(nnp.contains("NoNewPrivs:\t1"))
    }

    @Test func noDescriptorLeaksIntoTheContainer() async throws {
        let f = try RuntimeFixture()
        let (_, log) = try await run(f, "ls /proc/self/fd | wc -l; echo END")
        await f.tearDown()
        // 0, 1, 2 and the one ls opens to list the directory.
        #expect(log.split(separator: "\n").first?.trimmingCharacters(in: .whitespaces) == "4")
    }
}
