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
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
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
        .target(name: "Images", dependencies: ["LinuxPrimitives", "CLinux"]),
        .target(name: "Runtime", dependencies: ["LinuxPrimitives", "LinuxSecurity", "Images", "KubeAPI", "CLinux",
                                                .product(name: "Logging", package: "swift-log")]),
        .target(name: "Networking", dependencies: ["LinuxPrimitives", "LinuxNetlink"]),
        .target(name: "ServiceProxy", dependencies: ["LinuxNetlink", "KubeAPI", .product(name: "Logging", package: "swift-log")]),
        .target(name: "ContainerStats", dependencies: ["LinuxPrimitives", "LinuxNetlink"]),
        .executableTarget(name: "swiftlet-shim", dependencies: ["LinuxPrimitives", "CLinux"],
                          swiftSettings: [.unsafeFlags(["-Osize"])],
                          linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        // SQLite from the system (libsqlite3-dev): the API server's storage.
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // The bundled Kubernetes API server: storage, REST + watch, discovery, auth, controllers.
        .target(name: "APIServer", dependencies: [
            "CSQLite", "KubeAPI",
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
            "LinuxPrimitives", "KubeAPI", "Images", "Runtime", "Networking", "ServiceProxy", "ContainerStats",
            "APIServer",
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "LinuxPrimitivesTests", dependencies: ["LinuxPrimitives"]),
        .testTarget(name: "KubeAPITests", dependencies: ["KubeAPI"]),
        .testTarget(name: "APIServerTests", dependencies: ["APIServer"]),
    ]
)
