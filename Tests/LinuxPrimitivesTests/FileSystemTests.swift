import Glibc
import Testing
@testable import LinuxPrimitives

@Suite struct FileSystemTests {
    @Test func atomicWriteReplacesWholeFile() throws {
        let dir = "/tmp/swiftlet-fs-test-\(getpid())"
        try FileSystem.createDirectory(dir + "/a/b")
        defer { try? FileSystem.removeTree(dir) }
        try FileSystem.writeAtomically(dir + "/a/b/f", "first")
        try FileSystem.writeAtomically(dir + "/a/b/f", "second")
        #expect(try FileSystem.readString(dir + "/a/b/f") == "second")
        #expect(try FileSystem.listDirectory(dir + "/a/b") == ["f"])
    }

    @Test func errorsNameCallAndPath() {
        #expect(throws: SystemError("open", errno: ENOENT, path: "/nonexistent/x")) {
            _ = try FileSystem.readBytes("/nonexistent/x")
        }
        let error = SystemError("mount(overlay)", errno: EINVAL, path: "/run/x")
        #expect(error.description == "mount(overlay), /run/x: EINVAL (Invalid argument)")
    }

    @Test func removeTreeDoesNotFollowSymlinks() throws {
        let dir = "/tmp/swiftlet-rm-test-\(getpid())"
        let outside = dir + "-outside"
        try FileSystem.createDirectory(dir)
        try FileSystem.createDirectory(outside)
        defer { try? FileSystem.removeTree(outside) }
        try FileSystem.write(outside + "/keep", Array("x".utf8))
        try FileSystem.symlink(target: outside, at: dir + "/link")
        try FileSystem.removeTree(dir)
        #expect(!FileSystem.exists(dir))
        #expect(FileSystem.exists(outside + "/keep"))
    }
}
