import CRIAPI
import Foundation
import GRPCCore
import Testing

/// The CRI validation suite's "Security Context" group: what a container runs as and what it
/// may do, checked from inside the container.
@Suite("CRI security context (RootTests)", .enabled(if: CRIHarness.canRun, "needs root and /bin/busybox"))
struct SecurityContextRootTests {
    func withPod(_ name: String, pid: Runtime_V1_NamespaceMode = .container, network: Runtime_V1_NamespaceMode = .pod,
                 ipc: Runtime_V1_NamespaceMode = .pod, sysctls: [String: String] = [:],
                 _ body: (CRIHarness, RuntimeClient, String, Runtime_V1_PodSandboxConfig) async throws -> Void) async throws {
        let h = try CRIHarness()
        do {
            try await h.start()
            try await h.withClients { rt, _ in
                var pod = CRI.podConfig(name, harness: h, network: network, pid: pid, ipc: ipc)
                pod.linux.sysctls = sysctls
                let sandbox = try await CRI.runPod(rt, pod)
                try await body(h, rt, sandbox, pod)
            }
        } catch {
            await h.tearDown()
            throw error
        }
        await h.tearDown()
    }

    static func status(_ text: String, _ field: String) -> String {
        text.split(separator: "\n").first { $0.hasPrefix(field + ":") }.map { $0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces) } ?? ""
    }

    @Test func usersGroupsAndReadOnlyRootfs() async throws {
        try await withPod("users") { _, rt, sandbox, pod in
            var config = CRI.containerConfig("u", command: CRI.sleeper)
            config.linux.securityContext.runAsUser.value = 1234
            config.linux.securityContext.runAsGroup.value = 2345
            config.linux.securityContext.supplementalGroups = [3456, 4567]
            config.linux.securityContext.readonlyRootfs = true
            let id = try await CRI.run(rt, sandbox, pod, config)
            #expect(try await CRI.sh(rt, id, "id -u") == "1234")
            #expect(try await CRI.sh(rt, id, "id -g") == "2345")
            let groups = Set(try await CRI.sh(rt, id, "id -G").split(separator: " ").map(String.init))
            #expect(groups.isSuperset(of: ["2345", "3456", "4567"]))
            #expect(try await CRI.exec(rt, id, ["touch", "/newfile"]).exitCode != 0, "read-only root file system")
            #expect(try await CRI.exec(rt, id, ["touch", "/tmp/x"]).exitCode != 0)
            let status = try await CRI.status(rt, id).status.user.linux
            #expect(status.uid == 1234 && status.gid == 2345 && Set(status.supplementalGroups).isSuperset(of: [3456, 4567]))

            var named = CRI.containerConfig("named", command: CRI.sleeper)
            named.linux.securityContext.runAsUsername = "alice"
            let alice = try await CRI.run(rt, sandbox, pod, named)
            #expect(try await CRI.sh(rt, alice, "id -u; id -G") == "1234\n1234 2345")
            var missing = CRI.containerConfig("missing", command: CRI.sleeper)
            missing.linux.securityContext.runAsUsername = "mallory"
            #expect(await CRI.code { try await CRI.create(rt, sandbox, pod, missing) } == .invalidArgument)
            var groupOnly = CRI.containerConfig("grouponly", command: CRI.sleeper)
            groupOnly.linux.securityContext.runAsGroup.value = 10
            #expect(await CRI.code { try await CRI.create(rt, sandbox, pod, groupOnly) } == .invalidArgument)
        }
    }

    @Test func capabilitiesPrivilegedAndNoNewPrivs() async throws {
        try await withPod("caps") { _, rt, sandbox, pod in
            var config = CRI.containerConfig("caps", command: CRI.sleeper)
            config.linux.securityContext.capabilities.addCapabilities = ["NET_ADMIN", "CAP_SYS_TIME"]
            config.linux.securityContext.capabilities.dropCapabilities = ["CHOWN"]
            config.linux.securityContext.noNewPrivs = true
            let id = try await CRI.run(rt, sandbox, pod, config)
            let status = try await CRI.exec(rt, id, ["cat", "/proc/self/status"]).stdout
            let eff = UInt64(Self.status(status, "CapEff"), radix: 16) ?? 0
            #expect(eff & (1 << 12) != 0, "NET_ADMIN added")
            #expect(eff & (1 << 25) != 0, "SYS_TIME added")
            #expect(eff & 1 == 0, "CHOWN dropped")
            #expect(eff & (1 << 21) == 0, "SYS_ADMIN not in the default set")
            #expect(Self.status(status, "NoNewPrivs") == "1")

            var all = CRI.containerConfig("dropall", command: CRI.sleeper)
            all.linux.securityContext.capabilities.dropCapabilities = ["ALL"]
            let none = try await CRI.run(rt, sandbox, pod, all)
            #expect(Self.status(try await CRI.exec(rt, none, ["cat", "/proc/self/status"]).stdout, "CapEff") == "0000000000000000")

            var privileged = CRI.containerConfig("priv", command: CRI.sleeper)
            privileged.linux.securityContext.privileged = true
            let priv = try await CRI.run(rt, sandbox, pod, privileged)
            let privStatus = try await CRI.exec(rt, priv, ["cat", "/proc/self/status"]).stdout
            #expect((UInt64(Self.status(privStatus, "CapBnd"), radix: 16) ?? 0) & (1 << 21) != 0, "privileged: every capability")
            #expect(Self.status(privStatus, "Seccomp") == "0")
            // Privileged: nothing masked.
            #expect(try await CRI.sh(rt, priv, "wc -c < /proc/timer_list") != "0")
            // A capability the runtime itself lacks cannot be granted (here: SYS_RESOURCE, when missing).
            if ProcessCapabilitiesProbe.lacksSysResource {
                var tooMuch = CRI.containerConfig("toomuch", command: CRI.sleeper)
                tooMuch.linux.securityContext.capabilities.addCapabilities = ["SYS_RESOURCE"]
                #expect(await CRI.code { try await CRI.create(rt, sandbox, pod, tooMuch) } == .invalidArgument)
            }
        }
    }

    @Test func seccompProfiles() async throws {
        try await withPod("seccomp") { h, rt, sandbox, pod in
            func mode(_ profile: Runtime_V1_SecurityProfile?, path: String = "") async throws -> (String, String) {
                var config = CRI.containerConfig("s\(UInt32.random(in: 0...99999))", command: CRI.sleeper)
                if let profile { config.linux.securityContext.seccomp = profile }
                config.linux.securityContext.seccompProfilePath = path
                let id = try await CRI.run(rt, sandbox, pod, config)
                return (Self.status(try await CRI.exec(rt, id, ["cat", "/proc/self/status"]).stdout, "Seccomp"), id)
            }
            #expect(try await mode(.with { $0.profileType = .runtimeDefault }).0 == "2")
            #expect(try await mode(.with { $0.profileType = .unconfined }).0 == "0")
            #expect(try await mode(nil).0 == "0", "unset is unconfined without --seccomp-default")
            #expect(try await mode(nil, path: "runtime/default").0 == "2", "the deprecated path field still works")
            // A localhost profile that denies mkdir with EPERM.
            let profile = h.base + "/deny-mkdir.json"
            try #"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#
                .write(toFile: profile, atomically: true, encoding: .utf8)
            let (m, id) = try await mode(.with { $0.profileType = .localhost; $0.localhostRef = profile })
            #expect(m == "2")
            let denied = try await CRI.exec(rt, id, ["mkdir", "/tmp/d"])
            #expect(denied.exitCode != 0 && denied.stderr.lowercased().contains("not permitted"))
            #expect(await CRI.code { try await mode(.with { $0.profileType = .localhost; $0.localhostRef = "relative.json" }) } == .invalidArgument)
            #expect(await CRI.code { try await mode(.with { $0.profileType = .localhost; $0.localhostRef = h.base + "/none.json" }) } != nil)
        }
    }

    @Test func maskedAndReadOnlyPathsAsGiven() async throws {
        try await withPod("paths") { _, rt, sandbox, pod in
            let defaults = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("defaults", command: CRI.sleeper))
            #expect(try await CRI.sh(rt, defaults, "wc -c < /proc/timer_list") == "0", "masked by default")
            #expect(try await CRI.sh(rt, defaults, "ls /sys/firmware | wc -l") == "0", "masked by default")
            #expect(try await CRI.exec(rt, defaults, ["/bin/sh", "-c", "echo 1 > /proc/sys/kernel/domainname"]).exitCode != 0)

            var custom = CRI.containerConfig("custom", command: CRI.sleeper)
            custom.linux.securityContext.maskedPaths = ["/proc/cpuinfo", "/etc/hostname"]
            custom.linux.securityContext.readonlyPaths = ["/tmp"]
            let id = try await CRI.run(rt, sandbox, pod, custom)
            #expect(try await CRI.sh(rt, id, "wc -c < /proc/cpuinfo") == "0")
            #expect(try await CRI.sh(rt, id, "cat /etc/hostname") == "")
            #expect(try await CRI.exec(rt, id, ["touch", "/tmp/x"]).exitCode != 0, "read-only as given")
        }
    }

    @Test func podPIDNamespaceIsShared() async throws {
        try await withPod("sharedpid", pid: .pod) { _, rt, sandbox, pod in
            let a = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("a", command: ["/bin/sh", "-c", "exec sleep 3601"]))
            let b = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("b", command: CRI.sleeper))
            #expect(try await CRI.sh(rt, b, "ps -o args | grep -c '^sleep 3601'") == "1", "POD: sees its neighbour")
            #expect(try await CRI.sh(rt, a, "hostname") == "sharedpid")
        }
    }

    @Test func containerPIDNamespaceIsPrivate() async throws {
        try await withPod("ownpid", pid: .container) { _, rt, sandbox, pod in
            _ = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("a", command: ["/bin/sh", "-c", "exec sleep 3601"]))
            let b = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("b", command: CRI.sleeper))
            #expect(try await CRI.sh(rt, b, "ps -o args | grep -c '^sleep 3601'") == "0")
            #expect(try await CRI.sh(rt, b, "cat /proc/1/cmdline").hasPrefix("sleep"), "CONTAINER: its own process is pid 1")
        }
    }

    @Test func nodeNamespaces() async throws {
        try await withPod("hostns", pid: .node, network: .node, ipc: .node) { h, rt, sandbox, pod in
            let id = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("c", command: CRI.sleeper))
            // pid NODE: the test's own process is visible.
            #expect(try await CRI.sh(rt, id, "test -d /proc/\(getpid()) && echo visible") == "visible")
            // network NODE: the harness namespace's interfaces (the CNI bridge is not made for this pod).
            let links = try await CRI.sh(rt, id, "ls /sys/class/net")
            #expect(links.contains("lo"))
            let inode = try h.run("/usr/bin/stat", ["-L", "-c", "%i", h.netnsPath]).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await CRI.sh(rt, id, "readlink /proc/self/ns/net") == "net:[\(inode)]")
            #expect(try await CRI.podStatus(rt, sandbox).status.network.ip.isEmpty)
        }
    }

    @Test func namespacedSysctls() async throws {
        try await withPod("sysctls", sysctls: ["net.ipv4.ip_unprivileged_port_start": "23", "kernel.shm_rmid_forced": "1"]) { _, rt, sandbox, pod in
            let id = try await CRI.run(rt, sandbox, pod, CRI.containerConfig("c", command: CRI.sleeper))
            #expect(try await CRI.sh(rt, id, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start") == "23")
            #expect(try await CRI.sh(rt, id, "cat /proc/sys/kernel/shm_rmid_forced") == "1")
        }
    }
}

enum ProcessCapabilitiesProbe {
    static var lacksSysResource: Bool {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let bnd = SecurityContextRootTests.status(status, "CapBnd")
        return (UInt64(bnd, radix: 16) ?? ~0) & (1 << 24) == 0
    }
}
