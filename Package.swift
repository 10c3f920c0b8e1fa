// swift-tools-version: 6.1
// Swiftlet: a Kubernetes node agent (kubelet + kube-proxy + cAdvisor) on raw Linux primitives,
// with a minimal API server. Module map and rules: docs/architecture.md.
import PackageDescription

let package = Package(
    name: "swiftlet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swiftlet", targets: ["swiftlet"]),
        .executable(name: "swiftlet-shim", targets: ["swiftlet-shim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // The system C libraries (libnl-3/route, libnftnl, libmnl, libseccomp, libcap).
        .systemLibrary(name: "CSystemLibs", pkgConfig: "libnl-route-3.0",
                       providers: [.apt(["libnl-3-dev", "libnl-route-3-dev", "libnftnl-dev", "libmnl-dev", "libseccomp-dev", "libcap-dev"])]),
        // Raw syscalls with no glibc wrapper, and the async-signal-safe code between clone and exec.
        .target(name: "CLinux"),
        // Foundation-free Swift wrappers over syscalls: the shim links only this and CLinux.
        .target(name: "LinuxPrimitives", dependencies: ["CLinux"]),
        // Kubernetes object model and manifest decoding (YAML at the edge, JSON inside).
        .target(name: "KubeAPI", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Netlink: rtnetlink (libnl-route), nftables (libnftnl + libmnl), conntrack.
        .target(name: "LinuxNetlink", dependencies: ["CSystemLibs", "LinuxPrimitives", "CLinux"]),
        // Capabilities and seccomp profiles compiled to BPF.
        .target(name: "LinuxSecurity", dependencies: ["CSystemLibs", "LinuxPrimitives"]),
        // zlib for gzip layers (a system library: zlib1g-dev).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Images", dependencies: ["LinuxPrimitives", "CLinux", "CZlib",
                                               .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Runtime", dependencies: ["ShimProtocol", "LinuxPrimitives", "LinuxSecurity", "KubeAPI", "CLinux",
                                                .product(name: "Logging", package: "swift-log")]),
        .target(name: "Networking", dependencies: ["LinuxPrimitives", "LinuxNetlink"]),
        .target(name: "ServiceProxy", dependencies: ["LinuxNetlink", "KubeAPI", .product(name: "Logging", package: "swift-log")]),
        .target(name: "ContainerStats", dependencies: ["LinuxPrimitives", "LinuxNetlink"]),
        // What the agent and a pod's shim say to each other (Foundation-free).
        .target(name: "ShimProtocol", dependencies: ["LinuxPrimitives"]),
        // kubelet: pod workers, status, volumes, static pods, the kubelet HTTP endpoints.
        .target(name: "Kubelet", dependencies: [
            "Runtime", "KubeAPI", "LinuxPrimitives",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Running under systemd: journal log lines, D-Bus (logind shutdown inhibitor), Foundation-free.
        .target(name: "AgentSupport", dependencies: ["LinuxPrimitives", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "swiftlet-shim", dependencies: ["ShimProtocol", "LinuxPrimitives", "CLinux"],
                          swiftSettings: [.unsafeFlags(["-Osize"])],
                          linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        .executableTarget(name: "swiftlet", dependencies: [
            "LinuxPrimitives", "KubeAPI", "Images", "Runtime", "Networking", "ServiceProxy", "ContainerStats", "Kubelet",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "LinuxPrimitivesTests", dependencies: ["LinuxPrimitives"]),
        .testTarget(name: "KubeAPITests", dependencies: ["KubeAPI"]),
        .testTarget(name: "KubeletTests", dependencies: ["Kubelet", "Runtime", "KubeAPI", "LinuxPrimitives"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "LinuxPrimitives", "LinuxSecurity", "ShimProtocol"]),
        .testTarget(name: "LinuxNetlinkTests", dependencies: ["LinuxNetlink", "LinuxPrimitives"]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "LinuxPrimitives"], exclude: ["Fixtures"]),
        .testTarget(name: "AgentSupportTests", dependencies: ["AgentSupport", "LinuxPrimitives",
                                                             .product(name: "Logging", package: "swift-log")]),
        // Boots a pure cgroup v2 Debian VM (Tests/vm) and checks limits, the agent and systemd there.
        .testTarget(name: "VMSlowTests"),
    ]
)
