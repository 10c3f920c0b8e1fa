import Foundation
import LinuxPrimitives
import Testing
@testable import Images

/// The tar and gzip readers against archives written by an independent writer (python's
/// tarfile and gzip modules), covering ustar, GNU and PAX forms.
@Suite struct TarReaderTests {
    /// Runs python to produce bytes.
    func python(_ script: String) throws -> [UInt8] {
        let result = try Subprocess.run(Fixtures.python, arguments: [Fixtures.python, "-c", script], environment: ["PATH=/usr/bin:/bin"])
        guard result.status.succeeded else { throw ImageError.system(String(decoding: result.stderr, as: UTF8.self)) }
        return result.stdout
    }

    func entries(_ bytes: [UInt8]) throws -> [(TarEntry, [UInt8])] {
        let reader = TarReader(BufferedInput(try decompressing(MemorySource(bytes), name: "test"), capacity: 4096), name: "test")
        var out: [(TarEntry, [UInt8])] = []
        while let entry = try reader.next() {
            var data: [UInt8] = []
            try reader.readData { data.append(contentsOf: $0) }
            out.append((entry, data))
        }
        return out
    }

    static let writer = """
        import io, sys, tarfile, gzip
        def build(fmt):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
                ti = tarfile.TarInfo("d/" + "x" * 150); ti.size = 5; ti.mode = 0o4755; ti.uid = 3000000; ti.gid = 7; ti.mtime = 1234567890
                t.addfile(ti, io.BytesIO(b"hello"))
                ti = tarfile.TarInfo("l"); ti.type = tarfile.SYMTYPE; ti.linkname = "t/" + "y" * 120
                t.addfile(ti)
                ti = tarfile.TarInfo("c"); ti.type = tarfile.CHRTYPE; ti.devmajor = 1; ti.devminor = 3
                t.addfile(ti)
                ti = tarfile.TarInfo("big"); ti.size = 70000; t.addfile(ti, io.BytesIO(bytes(range(256)) * 273 + bytes(112)))
            return buf.getvalue()
        """

    @Test(arguments: ["GNU_FORMAT", "PAX_FORMAT"])
    func longNamesLargeIdsAndData(format: String) throws {
        let bytes = try python(Self.writer + "\nsys.stdout.buffer.write(build(tarfile.\(format)))")
        let all = try entries(bytes)
        #expect(all.count == 4)
        let (file, data) = all[0]
        #expect(file.path == "d/" + String(repeating: "x", count: 150))
        #expect(file.kind == .regular)
        #expect(file.mode == 0o4755)
        #expect(file.uid == 3_000_000)  // > 7 octal digits: base-256 (GNU) or PAX uid
        #expect(file.gid == 7)
        #expect(file.mtimeSeconds == 1_234_567_890)
        #expect(data == Array("hello".utf8))
        #expect(all[1].0.kind == .symlink)
        #expect(all[1].0.linkName == "t/" + String(repeating: "y", count: 120))
        #expect(all[2].0.kind == .characterDevice)
        #expect(all[2].0.deviceMajor == 1 && all[2].0.deviceMinor == 3)
        #expect(all[3].1.count == 70000)
        #expect(all[3].1[256] == 0 && all[3].1[257] == 1)
    }

    @Test func paxXattrsFractionalMtimeAndGzip() throws {
        let bytes = try python("""
            import io, sys, tarfile, gzip
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
                ti = tarfile.TarInfo("f"); ti.size = 1
                ti.pax_headers = {"SCHILY.xattr.user.k": "v\\u00e9", "mtime": "1700000000.25"}
                t.addfile(ti, io.BytesIO(b"z"))
            sys.stdout.buffer.write(gzip.compress(buf.getvalue()[:1024]) + gzip.compress(buf.getvalue()[1024:]))
            """)
        let all = try entries(bytes)  // two gzip members: both must be read
        #expect(all.count == 1)
        #expect(all[0].0.xattrs.map(\.name) == ["user.k"])
        #expect(all[0].0.xattrs.first?.value == Array("vé".utf8))
        #expect(all[0].0.mtimeSeconds == 1_700_000_000)
        #expect(all[0].0.mtimeNanoseconds == 250_000_000)
        #expect(all[0].1 == [UInt8(ascii: "z")])
    }

    @Test func badChecksumIsReportedWithTheOffset() throws {
        var bytes = try python(Self.writer + "\nsys.stdout.buffer.write(build(tarfile.USTAR_FORMAT if False else tarfile.GNU_FORMAT))")
        bytes[0] ^= 0x55
        #expect {
            _ = try entries(bytes)
        } throws: { error in
            "\(error)".contains("offset 0") && "\(error)".contains("checksum")
        }
    }

    @Test func truncatedGzipAndTrailingGarbageAreErrors() throws {
        let gz = try python("import gzip, sys; sys.stdout.buffer.write(gzip.compress(bytes(range(256)) * 20))")
        func inflateAll(_ bytes: [UInt8]) throws -> [UInt8] {
            let source = try decompressing(MemorySource(bytes), name: "test")
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1000)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
                if n == 0 { return out }
                out += buffer[0..<n]
            }
        }
        #expect(try inflateAll(gz) == Array((0..<20).flatMap { _ in (0...255).map { UInt8($0) } }))
        #expect(try inflateAll(gz + gz).count == 2 * 5120, "multi-member gzip")
        #expect {
            _ = try inflateAll(Array(gz.prefix(gz.count - 10)))
        } throws: { "\($0)".contains("truncated") }
        #expect {
            _ = try inflateAll(gz + Array("junk".utf8))
        } throws: { "\($0)".contains("trailing garbage") }
    }

    @Test func truncatedTarDataIsAnError() throws {
        let bytes = try python(Self.writer + "\nsys.stdout.buffer.write(build(tarfile.PAX_FORMAT))")
        #expect {
            _ = try entries(Array(bytes.prefix(bytes.count / 2)))
        } throws: { "\($0)".contains("truncated") }
    }
}
