// swift-tools-version: 6.1
// Side-by-side benchmarks against peers measured in the same run. Outside the test run:
// `swift run -c release --package-path Benchmarks <name>` (see Benchmarks/README.md).
import PackageDescription

let package = Package(
    name: "swiftlet-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "swiftlet", path: "..")],
    targets: [
        .executableTarget(name: "podstart", dependencies: [
            .product(name: "SwiftletRuntime", package: "swiftlet"),
        ]),
    ]
)
