import ArgumentParser
import Foundation
import LinuxNetlink
import LinuxPrimitives

/// Flags shared by the commands that run the node side (agent, up, cri), named as kubelet names them.
struct NodeOptions: ParsableArguments {
    @Option(help: "Persistent state: images, writable layers, volumes.")
    var rootDir = "/var/lib/swiftlet"

    @Option(help: "Volatile state: sandboxes, shim sockets, pinned namespaces (default: /run/swiftlet, or a directory derived from a non-default --root-dir).")
    var runDir: String?

    @Option(help: "The cgroup (below the cgroup2 mount) whose subtree the agent owns.")
    var cgroupRoot = "/swiftlet"

    @Option(help: "Where container logs go.")
    var podLogDir = "/var/log/pods"

    @Option(help: "The node's name (default: the hostname).")
    var nodeName: String?

    @Flag(help: "Use the RuntimeDefault seccomp profile for containers that ask for none.")
    var seccompDefault = false

    @Option(help: "pids.max of every pod; -1 for no limit.")
    var podMaxPids: Int64 = -1

    @Option(help: "Path of the swiftlet-shim executable (default: beside this binary).")
    var shimPath: String?

    @Option(help: "CNI configuration directory.")
    var cniConfDir = "/etc/cni/net.d"

    @Option(help: "CNI plugin search path (colon-separated).")
    var cniBinDir = "/opt/cni/bin"

    @Flag(help: "Start our own CNI plugins (swiftlet-bridge, -host-local, -loopback, -portmap) as executables, as any other plugin. By default a plugin file identical to the one shipped beside this binary runs inside the agent (same code, same results, no process start).")
    var cniExecOwnPlugins = false

    @Option(help: "Pod CIDR of this node, used by the default network when no CNI config exists.")
    var podCidr = "10.88.0.0/16"

    @Option(help: "Sampling interval of the container stats (a duration such as 10s or 500ms).")
    var housekeepingInterval = "10s"

    var resolvedRunDir: String {
        if let runDir { return runDir }
        if rootDir == "/var/lib/swiftlet" { return "/run/swiftlet" }
        // Two agents on one host (tests, a second node) must not adopt each other's pods.
        let tag = rootDir.split(separator: "/").joined(separator: "-")
        return "/run/swiftlet/" + tag
    }

    var resolvedNodeName: String { nodeName ?? HostFacts.hostname() }

    var resolvedShimPath: String { shimPath ?? HostFacts.executableDirectory() + "/swiftlet-shim" }
}

enum HostFacts {
    static func hostname() -> String {
        let raw = (try? FileSystem.readSmall("/proc/sys/kernel/hostname")) ?? "localhost"
        return raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// The node's primary IPv4 address: the first global address on a non-loopback interface.
    static func nodeIP() -> String? {
        guard let entries = try? InterfaceAddressList().addresses() else { return nil }
        for e in entries where e.address.count == 4 && e.address[0] != 127 && !(e.address[0] == 169 && e.address[1] == 254) {
            return e.address.map(String.init).joined(separator: ".")
        }
        return nil
    }

    static func executableDirectory() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }

    /// Parses `10s`, `500ms`, `2m`, `1h` (Go duration subset) into seconds.
    static func duration(_ text: String) throws -> Double {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let v = Double(text.dropLast(suffix.count)), v > 0 { return v * factor }
        }
        throw ValidationError("invalid duration \"\(text)\" (use e.g. 10s, 500ms, 1m)")
    }
}
