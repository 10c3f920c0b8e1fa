import Glibc
import LinuxPrimitives

/// Random access to the files of an image archive, whether it is a directory (an OCI layout
/// on disk) or a tar file (`docker save`, an OCI layout tar). Member names are archive paths
/// (`manifest.json`, `blobs/sha256/<hex>`); layers are read in place, never extracted first.
protocol ArchiveMembers: AnyObject {
    /// The archive's path, for error messages.
    var location: String { get }
    func exists(_ member: String) -> Bool
    /// A whole small member (JSON documents), at most `limit` bytes.
    func read(_ member: String, limit: Int) throws -> [UInt8]
    /// A streaming reader over a member (layers).
    func open(_ member: String) throws -> ByteSource
}

/// Normalises an archive member name: no leading `./` or `/`, no empty or `.` components;
/// `..` is refused (nothing may be read from outside the archive).
func normaliseMemberName(_ name: String, archive: String) throws -> String {
    var parts: [Substring] = []
    for part in name.split(separator: "/") where part != "." {
        if part == ".." {
            throw ImageError.invalidArchive(path: archive, reason: "member name \"\(name)\" contains '..'")
        }
        parts.append(part)
    }
    return parts.joined(separator: "/")
}

/// An archive that is a directory; members are opened beneath it with `openat2`, so a
/// symlink inside cannot make us read a file outside the layout.
final class DirectoryArchive: ArchiveMembers {
    let location: String
    private let root: FileDescriptor
    private var opened: [FileDescriptor] = []

    init(_ path: String) throws {
        location = path
        root = try ImageError.wrapping("opening \(path)") { try FileDescriptor.open(path, O_RDONLY | O_DIRECTORY) }
    }

    deinit {
        for fd in opened { fd.close() }
        root.close()
    }

    func exists(_ member: String) -> Bool {
        guard let name = try? normaliseMemberName(member, archive: location),
              let fd = try? root.openBeneath(name, FileDescriptor.pathOnly) else { return false }
        fd.close()
        return true
    }

    private func openFile(_ member: String) throws -> FileDescriptor {
        let name = try normaliseMemberName(member, archive: location)
        do {
            return try root.openBeneath(name, O_RDONLY)
        } catch let error as SystemError {
            throw ImageError.invalidArchive(path: location, reason: "cannot open \"\(member)\": \(error)")
        }
    }

    func read(_ member: String, limit: Int) throws -> [UInt8] {
        let fd = try openFile(member)
        defer { fd.close() }
        let bytes = try ImageError.wrapping("\(location): reading \(member)") { try fd.readAll() }
        guard bytes.count <= limit else {
            throw ImageError.invalidArchive(path: location, reason: "\"\(member)\" is larger than \(limit) bytes")
        }
        return bytes
    }

    func open(_ member: String) throws -> ByteSource {
        let fd = try openFile(member)
        opened.append(fd)
        return FileRangeSource(fd: fd, name: "\(location): \(member)")
    }
}

/// An archive that is a tar file: one pass over the headers (data skipped by seeking)
/// records where each member's bytes are, then members are read with `pread`.
final class TarArchive: ArchiveMembers {
    let location: String
    private let fd: FileDescriptor
    private var files: [String: (offset: Int64, size: Int64)] = [:]
    /// Symlinks (target relative to the link's directory) and hard links (relative to the root).
    private var links: [String: String] = [:]

    init(_ path: String, fd: FileDescriptor) throws {
        location = path
        self.fd = fd
        let input = BufferedInput(FileRangeSource(fd: fd, name: path), capacity: 64 * 1024, seekable: fd)
        let reader = TarReader(input, name: path)
        while let entry = try reader.next() {
            let name = try normaliseMemberName(entry.path, archive: path)
            switch entry.kind {
            case .regular:
                files[name] = (reader.dataOffset, entry.size)
            case .symlink:
                let base = name.split(separator: "/").dropLast().joined(separator: "/")
                links[name] = entry.linkName.hasPrefix("/") ? entry.linkName : (base.isEmpty ? "" : base + "/") + entry.linkName
            case .hardLink:
                links[name] = entry.linkName
            default:
                continue
            }
        }
    }

    deinit { fd.close() }

    /// Follows member links (bounded: a loop is an error, not a hang).
    private func locate(_ member: String) throws -> (offset: Int64, size: Int64)? {
        var name = try normaliseMemberName(member, archive: location)
        for _ in 0..<16 {
            if let file = files[name] { return file }
            guard let target = links[name] else { return nil }
            name = try normaliseMemberName(Self.collapse(target), archive: location)
        }
        throw ImageError.invalidArchive(path: location, reason: "\"\(member)\": too many levels of links")
    }

    /// Resolves `a/b/../c` textually (links inside docker archives are `../<id>/layer.tar`).
    private static func collapse(_ path: String) -> String {
        var out: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(part)
        }
        return out.joined(separator: "/")
    }

    func exists(_ member: String) -> Bool { (try? locate(member)) != nil }

    func read(_ member: String, limit: Int) throws -> [UInt8] {
        guard let file = try locate(member) else {
            throw ImageError.invalidArchive(path: location, reason: "no member \"\(member)\"")
        }
        guard file.size <= Int64(limit) else {
            throw ImageError.invalidArchive(path: location, reason: "\"\(member)\" is larger than \(limit) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Int(file.size))
        let source = FileRangeSource(fd: fd, offset: file.offset, length: file.size, name: "\(location): \(member)")
        var got = 0
        while got < bytes.count {
            let n = try bytes.withUnsafeMutableBytes { try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if n == 0 { break }
            got += n
        }
        return bytes
    }

    func open(_ member: String) throws -> ByteSource {
        guard let file = try locate(member) else {
            throw ImageError.invalidArchive(path: location, reason: "no member \"\(member)\"")
        }
        return FileRangeSource(fd: fd, offset: file.offset, length: file.size, name: "\(location): \(member)")
    }
}
