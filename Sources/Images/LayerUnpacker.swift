import Glibc
import LinuxPrimitives

/// What unpacking one layer produced and proved.
struct UnpackedLayer {
    /// sha256 of the uncompressed tar (the config's diff id).
    let diffID: Digest
    /// sha256 of the bytes as stored (the manifest's layer digest).
    let blobDigest: Digest
    /// Bytes of regular-file content written.
    let size: Int64
    /// Bytes of the stored (possibly compressed) blob.
    let blobSize: Int64
}

/// Writes one layer tar into an empty directory, safely and in overlayfs form.
///
/// Safety model: every entry path is checked (`..` components and absolute paths are refused
/// outright), and every file-system call is made relative to a parent directory descriptor
/// opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` from the layer root, so the
/// kernel refuses any resolution that would leave the root through a symlink planted by an
/// earlier entry (absolute or `../` relative); the final component is never followed
/// (`O_EXCL|O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, existing entries unlinked first).
///
/// OCI whiteouts become overlayfs whiteouts: `.wh.<name>` a 0/0 character device `<name>`,
/// `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr on its directory, so layers can be
/// stacked as overlay lower directories as they are.
final class LayerUnpacker {
    private let root: FileDescriptor
    private let preserveOwners: Bool
    private var cachedParent: (path: String, fd: FileDescriptor)?
    private var directoryTimes: [(path: String, seconds: Int, nanoseconds: Int)] = []
    private(set) var bytesWritten: Int64 = 0

    /// `root` is an O_PATH descriptor of the (empty) layer directory; the caller owns it.
    init(root: FileDescriptor, preserveOwners: Bool = geteuid() == 0) {
        self.root = root
        self.preserveOwners = preserveOwners
    }

    deinit { cachedParent?.fd.close() }

    /// Unpacks the layer in `source` (gzip or plain tar) into `directory`, which must not
    /// exist yet, and verifies both digests. On any error the directory is removed again.
    static func unpack(_ source: ByteSource, into directory: String, name: String,
                       expectedBlob: Digest?, expectedDiffID: Digest?) throws -> UnpackedLayer {
        try ImageError.wrapping("creating \(directory)") {
            try syscall("mkdir", path: directory) { mkdir(directory, 0o755) }
        }
        do {
            let root = try ImageError.wrapping("opening \(directory)") {
                try FileDescriptor.open(directory, FileDescriptor.pathOnly | O_DIRECTORY | O_NOFOLLOW)
            }
            defer { root.close() }
            let blob = HashingSource(source)
            let diff = HashingSource(try decompressing(blob, name: name))
            let tar = TarReader(BufferedInput(diff), name: name)
            let unpacker = LayerUnpacker(root: root)
            try unpacker.run(tar)
            try diff.drain()
            try blob.drain()
            if let expectedBlob, blob.digest != expectedBlob {
                throw ImageError.digestMismatch(what: name, expected: expectedBlob.description, actual: blob.digest.description)
            }
            if let expectedDiffID, diff.digest != expectedDiffID {
                throw ImageError.digestMismatch(what: "\(name) (uncompressed, diff id)", expected: expectedDiffID.description,
                                                actual: diff.digest.description)
            }
            return UnpackedLayer(diffID: diff.digest, blobDigest: blob.digest, size: unpacker.bytesWritten, blobSize: blob.count)
        } catch {
            try? FileSystem.removeTree(directory)
            throw error
        }
    }

    /// Applies every entry of `tar`, then the deferred directory times.
    func run(_ tar: TarReader) throws {
        while let entry = try tar.next() {
            do {
                try apply(entry, tar)
            } catch let error as ImageError {
                throw ImageError.context(tar.name, error)
            } catch {
                throw ImageError.context(tar.name, .system("entry \"\(entry.path)\": \(error)"))
            }
        }
        for item in directoryTimes {
            let fd: FileDescriptor
            do {
                fd = item.path.isEmpty ? root : try root.openBeneath(item.path, FileDescriptor.pathOnly | O_NOFOLLOW)
            } catch { continue }  // replaced or removed by a later entry
            defer { if !item.path.isEmpty { fd.close() } }
            try? fd.setTimes(nil, seconds: item.seconds, nanoseconds: item.nanoseconds)
        }
    }

    /// Splits an archive path into components, refusing absolute paths and `..`.
    static func components(of path: String, entry: String, what: String = "path") throws -> [String] {
        if path.hasPrefix("/") {
            throw ImageError.unsafeEntry(entry: entry, reason: "absolute \(what) \"\(path)\"")
        }
        var out: [String] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                throw ImageError.unsafeEntry(entry: entry, reason: "\(what) \"\(path)\" contains '..'")
            }
            out.append(String(part))
        }
        return out
    }

    private func apply(_ entry: TarEntry, _ tar: TarReader) throws {
        let parts = try LayerUnpacker.components(of: entry.path, entry: entry.path)
        guard let name = parts.last else {
            // "./": the layer root itself.
            guard entry.kind == .directory else {
                throw ImageError.unsafeEntry(entry: entry.path, reason: "a non-directory entry for the layer root")
            }
            let dir = try root.openBeneath(".", O_RDONLY | O_DIRECTORY)
            defer { dir.close() }
            try setMetadata(dir, entry)
            directoryTimes.append(("", entry.mtimeSeconds, entry.mtimeNanoseconds))
            return
        }
        let parentPath = parts.dropLast().joined(separator: "/")
        if name.hasPrefix(".wh.") {
            try whiteout(name: name, parentPath: parentPath, entry: entry)
            return
        }
        let parent = try parentDirectory(parentPath, entry: entry.path)
        if let existing = try parent.statAt(name) {
            let isDirectory = (existing.st_mode & S_IFMT) == S_IFDIR
            if !(isDirectory && entry.kind == .directory) {
                if entry.kind == .hardLink, try LayerUnpacker.components(of: entry.linkName, entry: entry.path) == parts {
                    return  // a hard link to itself: nothing to do
                }
                try parent.removeTreeAt(name)
                invalidateCache()
            }
        }
        switch entry.kind {
        case .regular:
            let file = try parent.openAt(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
            defer { file.close() }
            try tar.readData { chunk in try file.writeAll(chunk) }
            bytesWritten += entry.size
            try setMetadata(file, entry)
            try file.setTimes(nil, seconds: entry.mtimeSeconds, nanoseconds: entry.mtimeNanoseconds)
        case .directory:
            if try parent.statAt(name) == nil { try parent.makeDirectory(name, mode: 0o700) }
            let dir = try parent.openAt(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            defer { dir.close() }
            try setMetadata(dir, entry)
            directoryTimes.append((parts.joined(separator: "/"), entry.mtimeSeconds, entry.mtimeNanoseconds))
        case .symlink:
            try parent.makeSymlink(name, target: entry.linkName)
            if preserveOwners { try parent.changeOwner(name, uid: entry.uid, gid: entry.gid) }
            for (key, value) in entry.xattrs where LayerUnpacker.allowed(key, symlink: true) {
                try tolerateUnsupported { try parent.setExtendedAttribute(key, value: value, onEntry: name) }
            }
            try parent.setTimes(name, seconds: entry.mtimeSeconds, nanoseconds: entry.mtimeNanoseconds)
        case .hardLink:
            try hardLink(name: name, parent: parent, entry: entry)
        case .characterDevice, .blockDevice, .fifo:
            let type: mode_t = entry.kind == .fifo ? S_IFIFO : entry.kind == .blockDevice ? S_IFBLK : S_IFCHR
            try parent.makeNode(name, mode: type | 0o600, major: entry.deviceMajor, minor: entry.deviceMinor)
            if preserveOwners { try parent.changeOwner(name, uid: entry.uid, gid: entry.gid) }
            try parent.changeMode(name, mode: mode_t(entry.mode))
            for (key, value) in entry.xattrs where LayerUnpacker.allowed(key, symlink: false) {
                try tolerateUnsupported { try parent.setExtendedAttribute(key, value: value, onEntry: name) }
            }
            try parent.setTimes(name, seconds: entry.mtimeSeconds, nanoseconds: entry.mtimeNanoseconds)
        }
    }

    /// Owner (before mode: chown clears setuid/setgid), mode, xattrs of an open file or dir.
    private func setMetadata(_ fd: FileDescriptor, _ entry: TarEntry) throws {
        if preserveOwners { try fd.changeOwner(nil, uid: entry.uid, gid: entry.gid) }
        try fd.changeMode(nil, mode: mode_t(entry.mode))
        for (key, value) in entry.xattrs where LayerUnpacker.allowed(key, symlink: false) {
            try tolerateUnsupported { try fd.setExtendedAttribute(key, value: value) }
        }
    }

    /// Overlay metadata comes only from whiteout entries, never from a layer's own xattrs
    /// (a forged `trusted.overlay.*` could redirect lookups); user.* is not allowed on symlinks.
    static func allowed(_ xattr: String, symlink: Bool) -> Bool {
        if xattr.hasPrefix("trusted.overlay.") { return false }
        if symlink && xattr.hasPrefix("user.") { return false }
        return true
    }

    /// A file system without support for an xattr namespace (EOPNOTSUPP) drops it, as tar does.
    private func tolerateUnsupported(_ body: () throws -> Void) throws {
        do { try body() } catch let error as SystemError where error.errno == EOPNOTSUPP {}
    }

    private func hardLink(name: String, parent: FileDescriptor, entry: TarEntry) throws {
        let target = try LayerUnpacker.components(of: entry.linkName, entry: entry.path, what: "hard link target")
        guard let targetName = target.last else {
            throw ImageError.unsafeEntry(entry: entry.path, reason: "empty hard link target")
        }
        let targetParentPath = target.dropLast().joined(separator: "/")
        let targetParent: FileDescriptor
        do {
            targetParent = targetParentPath.isEmpty
                ? try root.openBeneath(".", FileDescriptor.pathOnly | O_DIRECTORY)
                : try root.openBeneath(targetParentPath, FileDescriptor.pathOnly | O_DIRECTORY)
        } catch let error as SystemError {
            throw refusal(error, entry: entry.path, path: entry.linkName, what: "hard link target")
        }
        defer { targetParent.close() }
        do {
            try parent.makeHardLink(name, to: targetName, in: targetParent)
        } catch let error as SystemError where error.errno == ENOENT {
            throw ImageError.unsafeEntry(entry: entry.path, reason: "hard link target \"\(entry.linkName)\" is not in this layer")
        }
    }

    private func whiteout(name: String, parentPath: String, entry: TarEntry) throws {
        let parent = try parentDirectory(parentPath, entry: entry.path)
        if name == ".wh..wh..opq" {
            let dir = parentPath.isEmpty
                ? try root.openBeneath(".", O_RDONLY | O_DIRECTORY)
                : try parent.openAt(".", O_RDONLY | O_DIRECTORY)
            defer { dir.close() }
            try dir.setExtendedAttribute("trusted.overlay.opaque", value: Array("y".utf8))
            return
        }
        if name.hasPrefix(".wh..wh.") { return }  // other AUFS bookkeeping: meaningless here
        let target = String(name.dropFirst(4))
        guard !target.isEmpty, target != ".", target != ".." else {
            throw ImageError.unsafeEntry(entry: entry.path, reason: "whiteout of \"\(target)\"")
        }
        // A whiteout hides lower layers only; an entry of this layer with that name stays.
        if try parent.statAt(target) != nil { return }
        try parent.makeNode(target, mode: S_IFCHR | 0o000, major: 0, minor: 0)
    }

    /// The parent directory of an entry, created (0755, root-owned, like other unpackers) if
    /// missing, resolved strictly beneath the root.
    private func parentDirectory(_ path: String, entry: String) throws -> FileDescriptor {
        if let cached = cachedParent, cached.path == path { return cached.fd }
        let fd = try openOrCreate(path, entry: entry)
        cachedParent?.fd.close()
        cachedParent = (path, fd)
        return fd
    }

    private func invalidateCache() {
        cachedParent?.fd.close()
        cachedParent = nil
    }

    private func openOrCreate(_ path: String, entry: String) throws -> FileDescriptor {
        let flags = FileDescriptor.pathOnly | O_DIRECTORY
        if path.isEmpty { return try root.openBeneath(".", flags) }
        do {
            return try root.openBeneath(path, flags)
        } catch let error as SystemError where error.errno == ENOENT {
            // Create the missing components one by one, each resolved again from the root.
            var prefix = ""
            for component in path.split(separator: "/") {
                let parentPath = prefix
                prefix = prefix.isEmpty ? String(component) : prefix + "/" + component
                do {
                    let fd = try root.openBeneath(prefix, flags)
                    fd.close()
                    continue
                } catch let error as SystemError where error.errno == ENOENT {
                    let parent = try root.openBeneath(parentPath.isEmpty ? "." : parentPath, flags)
                    defer { parent.close() }
                    do {
                        try parent.makeDirectory(String(component), mode: 0o755)
                    } catch let error as SystemError {
                        throw refusal(error, entry: entry, path: prefix, what: "parent")
                    }
                } catch let error as SystemError {
                    throw refusal(error, entry: entry, path: prefix, what: "parent")
                }
            }
            do { return try root.openBeneath(path, flags) } catch let error as SystemError {
                throw refusal(error, entry: entry, path: path, what: "parent")
            }
        } catch let error as SystemError {
            throw refusal(error, entry: entry, path: path, what: "parent")
        }
    }

    /// Turns the kernel's refusal to resolve a path into an error naming the entry.
    private func refusal(_ error: SystemError, entry: String, path: String, what: String) -> ImageError {
        switch error.errno {
        case EXDEV:
            return .unsafeEntry(entry: entry, reason: "\(what) \"\(path)\" resolves outside the layer (through a symlink)")
        case ELOOP:
            return .unsafeEntry(entry: entry, reason: "\(what) \"\(path)\" resolves through too many symlinks")
        case ENOTDIR:
            return .unsafeEntry(entry: entry, reason: "\(what) \"\(path)\" is not a directory")
        case EEXIST:
            return .unsafeEntry(entry: entry, reason: "\(what) \"\(path)\" is a dangling symlink")
        default:
            return .system("entry \"\(entry)\": \(error)")
        }
    }
}
