import Foundation
import Glibc
import LinuxPrimitives
@testable import Images

/// A scratch directory removed when the test ends (pass or fail).
final class ScratchDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/swiftlet-images-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError.current("mkdtemp") }
        path = String(cString: made)
    }

    deinit { try? FileSystem.removeTree(path) }
}

/// What `Fixtures/imagebuilder.py` reports about an image it wrote.
struct BuiltImage: Decodable {
    var ref: String
    var manifestDigest: String
    var configDigest: String
    /// The digest the layout's index.json points at (a nested index for multi-arch images).
    var topDigest: String
    var diffIDs: [String]
    var layerDigests: [String]
    /// Where the three forms were written.
    var directory = ""
    var ociDirectory: String { directory + "/oci" }
    var ociTar: String { directory + "/oci.tar" }
    var dockerTar: String { directory + "/docker.tar" }

    enum CodingKeys: String, CodingKey { case ref, manifestDigest, configDigest, topDigest, diffIDs, layerDigests }
}

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures"

    static var python: String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(dir)/python3"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return "/usr/bin/python3"
    }

    /// One layer entry of the builder's spec.
    static func entry(_ path: String, _ type: String = "file", data: String? = nil, link: String? = nil,
                      mode: Int? = nil, uid: Int? = nil, gid: Int? = nil, extra: [String: Any] = [:]) -> [String: Any] {
        var e: [String: Any] = ["path": path, "type": type]
        if let data { e["data"] = data }
        if let link { e["link"] = link }
        if let mode { e["mode"] = mode }
        if let uid { e["uid"] = uid }
        if let gid { e["gid"] = gid }
        for (k, v) in extra { e[k] = v }
        return e
    }

    /// Builds an image with our own builder (python's tarfile, no network) into `out`.
    static func build(in out: String, name: String = "test.local/img:latest", layers: [[[String: Any]]],
                      options: [String: Any] = [:]) throws -> BuiltImage {
        var spec: [String: Any] = ["out": out, "name": name, "layers": layers]
        for (k, v) in options { spec[k] = v }
        try FileSystem.createDirectory(out)
        let specPath = out + "/spec.json"
        try FileSystem.write(specPath, Array(try JSONSerialization.data(withJSONObject: spec)))
        let result = try Subprocess.run(python, arguments: [python, directory + "/imagebuilder.py", specPath],
                                        environment: ["PATH=/usr/bin:/bin"])
        guard result.status.succeeded else {
            throw ImageError.system("imagebuilder failed: " + String(decoding: result.stderr, as: UTF8.self))
        }
        var image = try JSONDecoder().decode(BuiltImage.self, from: Data(result.stdout))
        image.directory = out
        return image
    }

    /// A busybox image from Debian's busybox-static: busybox plus a few applet links.
    static func busybox(in out: String, name: String = "test.local/busybox:latest", options: [String: Any] = [:]) throws -> BuiltImage {
        var entries: [[String: Any]] = ["bin", "etc", "tmp"].map { entry($0, "dir", mode: $0 == "tmp" ? 0o1777 : 0o755) }
        entries.append(entry("bin/busybox", extra: ["source": "/bin/busybox", "mode": 0o755]))
        for applet in ["sh", "ls", "cat", "sleep"] { entries.append(entry("bin/" + applet, "symlink", link: "busybox")) }
        entries.append(entry("etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n"))
        return try build(in: out, name: name, layers: [entries],
                         options: options.merging(["config": ["Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/",
                                              "Labels": ["a": "b"], "ExposedPorts": ["80/tcp": [:]], "User": "0:0",
                                              "StopSignal": "SIGQUIT", "Entrypoint": ["/bin/busybox"]]]) { a, _ in a })
    }
}

/// Test helpers over the file system.
func lstatOf(_ path: String) -> stat? { FileSystem.lstatOrNil(path) }

func xattr(_ path: String, _ name: String) -> String? {
    guard let bytes = try? FileSystem.extendedAttribute(name, of: path) else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

/// Everything below `path`, as relative paths (for "nothing was left behind" checks).
func treeListing(_ path: String) -> [String] {
    var out: [String] = []
    func walk(_ dir: String, _ prefix: String) {
        for name in (try? FileSystem.listDirectory(dir)) ?? [] {
            out.append(prefix + name)
            if let st = lstatOf(dir + "/" + name), (st.st_mode & S_IFMT) == S_IFDIR { walk(dir + "/" + name, prefix + name + "/") }
        }
    }
    walk(path, "")
    return out.sorted()
}
