import Foundation
import Glibc
import LinuxPrimitives
import Testing
@testable import Images

/// What a layer tar turns into on disk: metadata kept, whiteouts in overlayfs form (proved by
/// mounting a real overlay), hostile entries refused with nothing written outside the store,
/// corrupt input refused with nothing left behind.
@Suite(.enabled(if: geteuid() == 0, "needs root (owners, device nodes, trusted.* xattrs, mount)"))
struct LayerUnpackRootTests {
    let scratch: ScratchDirectory
    let store: ImageStore
    /// A directory outside the store that hostile entries aim at; must stay untouched.
    let outside: String

    init() throws {
        scratch = try ScratchDirectory()
        store = try ImageStore(rootDir: scratch.path + "/root")
        outside = scratch.path + "/outside"
        try FileSystem.createDirectory(outside)
        try FileSystem.write(outside + "/secret", Array("secret".utf8))
    }

    typealias E = Fixtures

    @Test(arguments: ["pax", "gnu"])
    func metadataIsPreserved(format: String) throws {
        let longDir = String(repeating: "d", count: 120)
        let image = try Fixtures.build(in: scratch.path + "/img", layers: [[
            E.entry("bin", "dir", mode: 0o750, uid: 11, gid: 12, extra: ["mtime": 1_000_000_000]),
            E.entry("bin/su", data: "su", mode: 0o4755, uid: 0, gid: 0),
            E.entry("bin/sg", data: "sg", mode: 0o2711, uid: 1234, gid: 5678, extra: ["mtime": 1_500_000_000]),
            E.entry("tmp", "dir", mode: 0o1777),
            E.entry("bin/link", "hardlink", link: "bin/sg"),
            E.entry("bin/sym", "symlink", link: "/bin/su", uid: 42, gid: 43),
            E.entry("dev/null", "char", mode: 0o666, extra: ["major": 1, "minor": 3]),
            E.entry("dev/loop9", "block", mode: 0o660, extra: ["major": 7, "minor": 9]),
            E.entry("run/fifo", "fifo", mode: 0o600),
            E.entry("x/\(longDir)/\(longDir)", data: "deep"),
            E.entry("longlink", "symlink", link: "x/\(longDir)/\(longDir)"),
            E.entry("attr", data: "a", extra: ["xattrs": ["user.swiftlet": "hello", "trusted.overlay.opaque": "y"]]),
        ]], options: ["format": format])
        let fs = try #require(try store.resolve(store.importArchive(at: image.ociTar)[0].id.description).lowerDirectories.first)
        let bin = try #require(lstatOf(fs + "/bin"))
        #expect(bin.st_mode & 0o7777 == 0o750 && bin.st_uid == 11 && bin.st_gid == 12)
        #expect(bin.st_mtim.tv_sec == 1_000_000_000, "directory mtime set after its children were written")
        #expect(lstatOf(fs + "/bin/su").map { $0.st_mode & 0o7777 } == 0o4755)
        let sg = try #require(lstatOf(fs + "/bin/sg"))
        #expect(sg.st_mode & 0o7777 == 0o2711 && sg.st_uid == 1234 && sg.st_gid == 5678)
        #expect(sg.st_mtim.tv_sec == 1_500_000_000)
        #expect(sg.st_nlink == 2)
        #expect(lstatOf(fs + "/bin/link")?.st_ino == sg.st_ino)
        #expect(lstatOf(fs + "/tmp").map { $0.st_mode & 0o7777 } == 0o1777)
        let sym = try #require(lstatOf(fs + "/bin/sym"))
        #expect(sym.st_mode & S_IFMT == S_IFLNK && sym.st_uid == 42 && sym.st_gid == 43)
        #expect(try readLink(fs + "/bin/sym") == "/bin/su")
        let null = try #require(lstatOf(fs + "/dev/null"))
        #expect(null.st_mode & S_IFMT == S_IFCHR && null.st_mode & 0o777 == 0o666)
        #expect(clinuxMajorMinor(null.st_rdev) == (1, 3))
        let loop = try #require(lstatOf(fs + "/dev/loop9"))
        #expect(loop.st_mode & S_IFMT == S_IFBLK && clinuxMajorMinor(loop.st_rdev) == (7, 9))
        #expect(lstatOf(fs + "/run/fifo").map { $0.st_mode & S_IFMT } == S_IFIFO)
        #expect(lstatOf(fs + "/run").map { $0.st_mode & 0o7777 } == 0o755, "implicit parent directory")
        #expect(try FileSystem.readString(fs + "/x/\(longDir)/\(longDir)") == "deep")
        #expect(try readLink(fs + "/longlink") == "x/\(longDir)/\(longDir)")
        if format == "pax" { #expect(xattr(fs + "/attr", "user.swiftlet") == "hello") }  // GNU tar has no xattr records
        #expect(xattr(fs + "/attr", "trusted.overlay.opaque") == nil, "overlay xattrs only come from whiteouts")
    }

    @Test func whiteoutsHideLowerLayersInARealOverlay() throws {
        let image = try Fixtures.build(in: scratch.path + "/img", layers: [
            [E.entry("a/x", data: "x"), E.entry("a/y", data: "y"), E.entry("d/keep", data: "k"), E.entry("gone", data: "g")],
            [E.entry("a/.wh.x"), E.entry(".wh.gone"), E.entry("d", "dir"), E.entry("d/.wh..wh..opq"), E.entry("d/new", data: "n"),
             E.entry("a/z", data: "z"), E.entry("a/.wh.z")],
        ])
        let resolved = try store.resolve(store.importArchive(at: image.dockerTar)[0].id.description)
        #expect(resolved.lowerDirectories.count == 2)
        let top = resolved.lowerDirectories[0]
        let whiteout = try #require(lstatOf(top + "/a/x"))
        #expect(whiteout.st_mode & S_IFMT == S_IFCHR && whiteout.st_rdev == 0)
        #expect(xattr(top + "/d", "trusted.overlay.opaque") == "y")
        #expect(!FileSystem.exists(top + "/d/.wh..wh..opq") && !FileSystem.exists(top + "/a/.wh.x"))
        #expect(try FileSystem.readString(top + "/a/z") == "z", "a whiteout hides lower layers only, not its own layer")

        let merged = scratch.path + "/merged"
        try FileSystem.createDirectory(merged)
        let options = "lowerdir=" + resolved.lowerDirectories.joined(separator: ":")
        try syscall("mount(overlay)", path: merged) { mount("overlay", merged, "overlay", UInt(MS_RDONLY), options) }
        defer { umount2(merged, Int32(MNT_DETACH)) }
        #expect(try FileSystem.readString(merged + "/a/y") == "y")
        #expect(!FileSystem.exists(merged + "/a/x"), "file deleted in layer 2 is gone")
        #expect(!FileSystem.exists(merged + "/gone"))
        #expect(!FileSystem.exists(merged + "/d/keep"), "opaque directory hides the lower contents")
        #expect(try FileSystem.readString(merged + "/d/new") == "n")
        #expect(try FileSystem.readString(merged + "/a/z") == "z")
    }

    /// The relative path from the layer's unpack directory (`<root>/images/tmp/<work>/fs`) to
    /// `outside`: what a naive `join(layer, name)` unpacker would write through.
    var escape: String { "../../../../../outside" }

    @Test(arguments: [
        ("dotdot", "contains '..'"),
        ("absolute", "absolute path"),
        ("absolute-symlink", "resolves outside the layer"),
        ("relative-symlink", "resolves outside the layer"),
        ("hardlink-outside", "contains '..'"),
        ("hardlink-absolute", "absolute hard link target"),
        ("hardlink-through-symlink", "resolves outside the layer"),
        ("symlink-parent-chain", "resolves outside the layer"),
    ])
    func hostileEntriesAreRefused(kind: String, reason: String) throws {
        let benign = [E.entry("bin", "dir"), E.entry("bin/ok", data: "ok")]
        let (entries, named): ([[String: Any]], String) = switch kind {
        case "dotdot": ([E.entry("\(escape)/dotdot", data: "x")], "\(escape)/dotdot")
        case "absolute": ([E.entry("\(outside)/absolute", data: "x")], "\(outside)/absolute")
        case "absolute-symlink": ([E.entry("evil", "symlink", link: outside), E.entry("evil/planted", data: "x")], "evil/planted")
        case "relative-symlink": ([E.entry("bin/evil", "symlink", link: "../\(escape)"), E.entry("bin/evil/planted", data: "x")],
                                  "bin/evil/planted")
        case "hardlink-outside": ([E.entry("pw", "hardlink", link: "\(escape)/secret")], "pw")
        case "hardlink-absolute": ([E.entry("pw", "hardlink", link: "\(outside)/secret")], "pw")
        case "hardlink-through-symlink": ([E.entry("evil", "symlink", link: outside), E.entry("pw", "hardlink", link: "evil/secret")], "pw")
        default: ([E.entry("a", "symlink", link: "b/../.."), E.entry("b", "dir"), E.entry("a/x/planted", data: "x")], "a/x/planted")
        }
        let image = try Fixtures.build(in: scratch.path + "/img", layers: [benign + entries])
        for path in [image.dockerTar, image.ociTar] {
            do {
                _ = try store.importArchive(at: path)
                Issue.record("\(kind): import was accepted")
            } catch let error as ImageError {
                guard case .unsafeEntry(let entry, let why) = error.root else {
                    Issue.record("\(kind): unexpected error \(error)")
                    continue
                }
                #expect(entry == named)
                #expect(why.contains(reason), "\(error)")
            }
            #expect(treeListing(outside) == ["secret"], "nothing written outside the layer")
            #expect(lstatOf(outside + "/secret")?.st_nlink == 1, "no hard link made to a file outside")
            try assertNoPartialState()
        }
    }

    @Test(arguments: ["truncate-gzip", "truncate-tar", "garbage-tar", "bad-diff-id", "bad-blob-digest"])
    func corruptLayersLeaveNothingBehind(corruption: String) throws {
        let image = try Fixtures.build(in: scratch.path + "/img", layers: [
            [E.entry("a", data: String(repeating: "a", count: 100_000))],
            [E.entry("b", data: String(repeating: "b", count: 100_000))],
        ], options: ["corrupt": corruption])
        let formats = corruption == "truncate-gzip" || corruption == "bad-blob-digest" ? [image.ociTar, image.ociDirectory]
            : [image.ociTar, image.dockerTar]
        for path in formats {
            #expect {
                _ = try store.importArchive(at: path)
            } throws: { error in
                let text = "\(error)"
                switch corruption {
                case "truncate-gzip": return text.contains("gzip stream truncated")
                case "truncate-tar": return text.contains("truncated") || text.contains("digest mismatch")
                case "garbage-tar": return text.contains("bad header checksum")
                case "bad-diff-id": return text.contains("diff id") && text.contains("digest mismatch")
                default: return text.contains("digest mismatch") && text.contains(image.layerDigests[1])
                }
            }
            // Not even the good first layer stays: a failed import leaves nothing.
            try assertNoPartialState()
        }
    }

    func assertNoPartialState() throws {
        #expect(try store.list().isEmpty)
        #expect(treeListing(store.tmpDirectory).isEmpty)
        #expect(try FileSystem.listDirectory(store.layersDirectory).isEmpty)
    }

    func readLink(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count)
        guard n >= 0 else { throw SystemError.current("readlink", path: path) }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

func clinuxMajorMinor(_ dev: dev_t) -> (UInt32, UInt32) {
    (UInt32((dev >> 8) & 0xfff) | UInt32((dev >> 32) & ~0xfff), UInt32(dev & 0xff) | UInt32((dev >> 12) & ~0xff))
}
