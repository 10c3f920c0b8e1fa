// swift-tools-version: 6.1
// Load generator for the bundled API server: creates/s, watch-event latency with 10 and 100
// watchers, and the server's RSS with 10k pods stored. It drives the real `swiftlet apiserver`
// binary (built by the root package) over HTTPS, so client and server are separate processes.
import PackageDescription

let package = Package(
    name: "apiserver-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .executableTarget(name: "apiserver-bench", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
    ]
)
