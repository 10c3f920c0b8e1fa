#!/bin/bash
# Regenerates the committed Swift code of the CRI v1 API (Sources/CRIAPI/Generated) from our own
# Sources/CRIAPI/Proto/api.proto. Run by hand after changing the .proto, never in CI: building the
# two protoc plugins takes about ten minutes on two cores.
#
#   scripts/generate-cri.sh            # builds the plugins in .build-crigen (kept for next time)
#
# Needs protoc (Debian's protobuf-compiler) and the Swift packages swift-protobuf 1.39.0 and
# grpc-swift-protobuf 2.4.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS=${CRI_GEN_TOOLS:-$ROOT/.build-crigen}
PROTO_DIR=Sources/CRIAPI/Proto
OUT=Sources/CRIAPI/Generated

command -v protoc >/dev/null || { echo "protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

mkdir -p "$TOOLS/pkg/Sources/Placeholder"
cat >"$TOOLS/pkg/Package.swift" <<'SWIFT'
// swift-tools-version: 6.1
// Only here to build the two protoc plugins at pinned versions.
import PackageDescription
let package = Package(
    name: "crigen",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ],
    targets: [.target(name: "Placeholder")]
)
SWIFT
echo "// placeholder" >"$TOOLS/pkg/Sources/Placeholder/Placeholder.swift"
swift build --package-path "$TOOLS/pkg" --scratch-path "$TOOLS/build" -c debug \
    --product protoc-gen-swift >&2
swift build --package-path "$TOOLS/pkg" --scratch-path "$TOOLS/build" -c debug \
    --product protoc-gen-grpc-swift-2 >&2
BIN=$(swift build --package-path "$TOOLS/pkg" --scratch-path "$TOOLS/build" -c debug --show-bin-path)

mkdir -p "$OUT"
rm -f "$OUT"/*.swift
protoc -I "$PROTO_DIR" \
    --plugin=protoc-gen-swift="$BIN/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift="$BIN/protoc-gen-grpc-swift-2" \
    --swift_opt=Visibility=Public \
    --swift_out="$OUT" \
    --grpc-swift_opt=Visibility=Public,Server=true,Client=true \
    --grpc-swift_out="$OUT" \
    "$PROTO_DIR/api.proto"
echo "generated: $(ls "$OUT")"
