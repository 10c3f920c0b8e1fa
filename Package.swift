// swift-tools-version: 6.1
// Swiftlet: a Kubernetes node agent (kubelet + kube-proxy + cAdvisor) on raw Linux primitives,
// with a minimal API server. Module map and rules: docs/architecture.md.
import PackageDescription

/// CNI plugins start once per pod and verb: static Swift stdlib, and static C libraries where
/// Debian ships them (cni-plugins/link-static-c-libs says how and why).
let pluginLinking: [LinkerSetting] = [.unsafeFlags(["-static-stdlib", "-use-ld=\(Context.packageDirectory)/cni-plugins/link-static-c-libs"])]

/// The agent and API server binary: packed relative relocations (DT_RELR, glibc >= 2.36, which
/// Debian 12 has) shrink the ~76k relocations the dynamic loader reads at every start from
/// 1.8 MiB to a few KiB, pages that otherwise stay resident in every swiftlet process.
///
/// Sources/swiftlet/link-order.txt lists, first, the functions a node runs (written by
/// scripts/link-order/generate.sh): with scripts/build-release.sh's function sections they share
/// contiguous pages, so the kernel's 64 KiB fault-around maps ~8 MiB of code instead of ~27 MiB
/// (docs/memory.md).
let agentLinking: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                                                   "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/swiftlet/link-order.txt",
                                                   "-Xlinker", "--no-warn-symbol-ordering",
                                                   // -static-stdlib exports every symbol (for dlsym lookups swiftlet never
                                                   // makes): a 6.6 MiB dynamic symbol table that ld.so walks at start.
                                                   "-Xlinker", "--no-export-dynamic"])]

let package = Package(
    name: "swiftlet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swiftlet", targets: ["swiftlet"]),
        .executable(name: "swiftlet-shim", targets: ["swiftlet-shim"]),
        .executable(name: "swiftlet-bridge", targets: ["swiftlet-bridge"]),
        .executable(name: "swiftlet-host-local", targets: ["swiftlet-host-local"]),
        .executable(name: "swiftlet-loopback", targets: ["swiftlet-loopback"]),
        .executable(name: "swiftlet-portmap", targets: ["swiftlet-portmap"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
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
                                               .product(name: "Crypto", package: "swift-crypto"),
                                               .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                               .product(name: "NIOCore", package: "swift-nio"),
                                               .product(name: "NIOPosix", package: "swift-nio"),
                                               .product(name: "NIOHTTP1", package: "swift-nio")]),
        .target(name: "Runtime", dependencies: ["ShimProtocol", "LinuxPrimitives", "LinuxSecurity", "Images", "KubeAPI", "CLinux",
                                                .product(name: "Logging", package: "swift-log")]),
        .target(name: "Networking", dependencies: ["LinuxPrimitives", "LinuxNetlink", "CNI", "CNIPlugins", "Runtime",
                                                   .product(name: "Logging", package: "swift-log")]),
        // CNI wire types (JSON, results, errors), Foundation-free: shared by the runtime side and the plugins.
        .target(name: "CNI", dependencies: ["LinuxNetlink"]),
        // Our CNI plugins' logic; cni-plugins/<name>/main.swift are one-line executables over it.
        .target(name: "CNIPlugins", dependencies: ["CNI", "LinuxNetlink", "LinuxPrimitives"]),
        .executableTarget(name: "swiftlet-bridge", dependencies: ["CNIPlugins"], path: "cni-plugins/swiftlet-bridge",
                          linkerSettings: pluginLinking),
        .executableTarget(name: "swiftlet-host-local", dependencies: ["CNIPlugins"], path: "cni-plugins/swiftlet-host-local",
                          linkerSettings: pluginLinking),
        .executableTarget(name: "swiftlet-loopback", dependencies: ["CNIPlugins"], path: "cni-plugins/swiftlet-loopback",
                          linkerSettings: pluginLinking),
        .executableTarget(name: "swiftlet-portmap", dependencies: ["CNIPlugins"], path: "cni-plugins/swiftlet-portmap",
                          linkerSettings: pluginLinking),
        .target(name: "ServiceProxy", dependencies: ["LinuxNetlink", "KubeAPI", .product(name: "Logging", package: "swift-log")]),
        .target(name: "ContainerStats", dependencies: ["LinuxPrimitives", "LinuxNetlink",
                                                       .product(name: "Prometheus", package: "swift-prometheus"),
                                                       .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        // The stats endpoints as Hummingbird routes (one call mounts them on the agent's router).
        .target(name: "ContainerStatsHTTP", dependencies: ["ContainerStats", .product(name: "Hummingbird", package: "hummingbird")]),
        // Kubernetes REST client: kubeconfig, list, watch, patch, informers.
        .target(name: "KubeClient", dependencies: ["KubeAPI", .product(name: "Logging", package: "swift-log"),
                                                   .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                   .product(name: "NIOCore", package: "swift-nio"),
                                                   .product(name: "NIOHTTP1", package: "swift-nio"),
                                                   .product(name: "NIOSSL", package: "swift-nio-ssl")]),
        // What the agent and a pod's shim say to each other (Foundation-free).
        .target(name: "ShimProtocol", dependencies: ["LinuxPrimitives"]),
        // kubelet: pod workers, status, volumes, static pods, the kubelet HTTP endpoints.
        .target(name: "Kubelet", dependencies: [
            "Runtime", "KubeAPI", "KubeClient", "LinuxPrimitives", "Streaming", "AgentSupport",
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // CRI v1 messages and gRPC stubs, generated once from Proto/api.proto (scripts/generate-cri.sh).
        .target(name: "CRIAPI", dependencies: [.product(name: "GRPCCore", package: "grpc-swift-2"),
                                               .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                                               .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["Proto"]),
        // exec/attach/port-forward over WebSocket channel protocols and SPDY/3.1, for CRI URLs and kubelet paths.
        .target(name: "Streaming", dependencies: ["LinuxPrimitives", "Runtime", "CZlib",
                                                  .product(name: "Crypto", package: "swift-crypto"),
                                                  .product(name: "NIOCore", package: "swift-nio"),
                                                  .product(name: "NIOPosix", package: "swift-nio"),
                                                  .product(name: "NIOHTTP1", package: "swift-nio"),
                                                  .product(name: "NIOWebSocket", package: "swift-nio"),
                                                  .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                                                  .product(name: "Logging", package: "swift-log")]),
        // The CRI v1 gRPC service (RuntimeService + ImageService) over the runtime and the image store.
        .target(name: "CRI", dependencies: ["CRIAPI", "Runtime", "Images", "ContainerStats", "Streaming", "LinuxPrimitives", "LinuxNetlink",
                                            .product(name: "GRPCCore", package: "grpc-swift-2"),
                                            .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                                            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                                            .product(name: "Logging", package: "swift-log")]),
        // Running under systemd: journal log lines, D-Bus (logind shutdown inhibitor), Foundation-free.
        .target(name: "AgentSupport", dependencies: ["LinuxPrimitives", .product(name: "Logging", package: "swift-log"),
                                                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .executableTarget(name: "swiftlet-shim", dependencies: ["ShimProtocol", "LinuxPrimitives", "CLinux"],
                          swiftSettings: [.unsafeFlags(["-Osize"])],
                          linkerSettings: [.unsafeFlags(["-static-executable", "-use-ld=lld", "-Xlinker", "--gc-sections", "-Xlinker", "--no-warnings"])]),
        // SQLite from the system (libsqlite3-dev): the API server's storage.
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // The bundled Kubernetes API server: storage, REST + watch, discovery, auth, controllers.
        .target(name: "APIServer", dependencies: [
            "CSQLite", "KubeAPI", "LinuxPrimitives",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "swiftlet", dependencies: [
            "LinuxPrimitives", "KubeAPI", "Images", "Runtime", "Networking", "ServiceProxy", "ContainerStats", "ContainerStatsHTTP", "Kubelet",
            "ShimProtocol", "LinuxNetlink", "AgentSupport", "KubeClient", "APIServer", "CRI", "Streaming",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], exclude: ["link-order.txt"], linkerSettings: agentLinking),
        // Benchmarks/stats: housekeeping CPU, scrape latency and RSS vs a naive collector.
        .executableTarget(name: "stats-bench", dependencies: ["ContainerStats", "ContainerStatsHTTP", "LinuxPrimitives", "AgentSupport",
                                                              .product(name: "Hummingbird", package: "hummingbird")],
                          path: "Benchmarks/stats/Sources/StatsBench"),
        // Benchmarks/podstart: pod start latency and shim memory beside runc, same run.
        .executableTarget(name: "podstart-bench", dependencies: ["Runtime", "Images", "LinuxPrimitives", "Networking",
                                                              .product(name: "Logging", package: "swift-log")], path: "Benchmarks/podstart",
                          exclude: ["README.md", "run.sh"]),
        // Benchmarks/cri: RunPodSandbox + CreateContainer + StartContainer over any CRI socket.
        .executableTarget(name: "cri-bench", dependencies: ["CRIAPI", .product(name: "GRPCCore", package: "grpc-swift-2"),
                                                           .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport")],
                          path: "Benchmarks/cri", exclude: ["README.md", "run.sh", "containerd.toml.in"]),
        // Side-by-side with kube-proxy's own kernel inputs (nft -f, iptables-restore); run as root.
        .executableTarget(name: "proxy-bench", dependencies: ["ServiceProxy", "KubeAPI", "LinuxNetlink", "LinuxPrimitives"],
                          path: "Benchmarks/proxy", exclude: ["README.md"]),
        .testTarget(name: "LinuxPrimitivesTests", dependencies: ["LinuxPrimitives"]),
        .testTarget(name: "KubeAPITests", dependencies: ["KubeAPI"]),
        .testTarget(name: "LinuxNetlinkRouteTests", dependencies: ["LinuxNetlink", "LinuxPrimitives"]),
        .testTarget(name: "CNITests", dependencies: ["CNI", "CNIPlugins", "LinuxNetlink"]),
        .testTarget(name: "NetworkingTests", dependencies: ["Networking", "CNI", "CNIPlugins", "LinuxNetlink", "LinuxPrimitives", "Runtime",
                                                            .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "KubeletTests", dependencies: ["Kubelet", "Runtime", "KubeAPI", "LinuxPrimitives"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "LinuxPrimitives", "LinuxSecurity", "ShimProtocol"]),
        .testTarget(name: "LinuxNetlinkTests", dependencies: ["LinuxNetlink", "LinuxPrimitives"]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "LinuxPrimitives"], exclude: ["Fixtures"]),
        .testTarget(name: "ContainerStatsTests", dependencies: ["ContainerStats", "ContainerStatsHTTP", "LinuxPrimitives", "LinuxNetlink", "AgentSupport",
                                                                .product(name: "Hummingbird", package: "hummingbird")]),
        .testTarget(name: "ServiceProxyTests", dependencies: ["ServiceProxy", "KubeAPI", "LinuxNetlink", "LinuxPrimitives"]),
        .testTarget(name: "AgentSupportTests", dependencies: ["AgentSupport", "LinuxPrimitives",
                                                             .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "StreamingTests", dependencies: ["Streaming", "LinuxPrimitives", "AgentSupport",
                                                           .product(name: "NIOCore", package: "swift-nio"),
                                                           .product(name: "NIOPosix", package: "swift-nio"),
                                                           .product(name: "Hummingbird", package: "hummingbird")]),
        .testTarget(name: "CRITests", dependencies: ["CRIAPI", "Streaming", "LinuxPrimitives",
                                                     .product(name: "GRPCCore", package: "grpc-swift-2"),
                                                     .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                                                     .product(name: "NIOCore", package: "swift-nio"),
                                                     .product(name: "NIOPosix", package: "swift-nio")]),
        // Boots a pure cgroup v2 Debian VM (Tests/vm) and checks limits, the agent and systemd there.
        .testTarget(name: "VMSlowTests"),
        .testTarget(name: "APIServerTests", dependencies: ["APIServer", "KubeClient", "KubeAPI",
                                                          .product(name: "X509", package: "swift-certificates"),
                                                          .product(name: "Crypto", package: "swift-crypto")]),
    ]
)
