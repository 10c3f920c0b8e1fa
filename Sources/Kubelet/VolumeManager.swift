import Foundation
import KubeAPI
import LinuxPrimitives
import Runtime

/// A pod's volumes on the host: emptyDirs under the pod directory (tmpfs for medium Memory),
/// hostPaths checked against their type, subPaths bind-mounted from a descriptor opened beneath
/// the volume (kubelet's defence against symlinks pointing out of it).
struct VolumeManager: Sendable {
    let rootDir: String

    struct VolumeError: Error, CustomStringConvertible {
        let volume: String
        let message: String
        var description: String { "volume \"\(volume)\": \(message)" }
    }

    /// Content providers for volumes whose data comes from the API server (configMap, secret,
    /// downwardAPI, projected): nil in standalone mode.
    var sourcedVolumes: (any SourcedVolumeWriter)? = nil

    func podDir(_ uid: String) -> String { rootDir + "/pods/" + uid }

    /// Makes every volume of the pod exist; returns volume name -> host path.
    func setUp(_ pod: Pod, uid: String) async throws -> [String: String] {
        var paths: [String: String] = [:]
        for volume in pod.spec.volumes ?? [] {
            if let emptyDir = volume.emptyDir {
                let dir = podDir(uid) + "/volumes/kubernetes.io~empty-dir/" + volume.name
                try FileSystem.createDirectory(dir, mode: 0o777)
                chmod(dir, 0o777)
                if emptyDir.medium == "Memory" && !Mounts.isMountPoint(dir) {
                    var options = "mode=0777"
                    if let size = emptyDir.sizeLimit?.value, size > 0 { options += ",size=\(size)" }
                    try Mounts.tmpfs(at: dir, options: options)
                }
                paths[volume.name] = dir
            } else if let hostPath = volume.hostPath {
                try checkHostPath(hostPath, volume: volume.name)
                paths[volume.name] = hostPath.path
            } else if volume.configMap != nil || volume.secret != nil || volume.downwardAPI != nil || volume.projected != nil {
                guard let writer = sourcedVolumes else {
                    throw VolumeError(volume: volume.name, message: "configMap, secret, downwardAPI and projected volumes need an API server (standalone mode)")
                }
                let dir = podDir(uid) + "/volumes/kubernetes.io~projected/" + volume.name
                try await writer.write(volume, pod: pod, into: dir)
                paths[volume.name] = dir
            } else {
                throw VolumeError(volume: volume.name, message: "unsupported volume type")
            }
        }
        return paths
    }

    /// Rewrites configMap/secret/downwardAPI/projected volumes whose source changed (kubelet's
    /// periodic volume sync); unchanged ones are left as they are.
    func refreshSourced(_ pod: Pod, uid: String) async throws {
        guard let writer = sourcedVolumes else { return }
        for volume in pod.spec.volumes ?? [] where volume.configMap != nil || volume.secret != nil || volume.downwardAPI != nil || volume.projected != nil {
            try await writer.write(volume, pod: pod, into: podDir(uid) + "/volumes/kubernetes.io~projected/" + volume.name)
        }
    }

    func checkHostPath(_ source: HostPathVolumeSource, volume: String) throws {
        let path = source.path
        guard path.hasPrefix("/") else { throw VolumeError(volume: volume, message: "hostPath.path must be absolute: \(path)") }
        let st = FileSystem.lstatOrNil(path).map { $0.st_mode & S_IFMT }
        switch source.type ?? "" {
        case "":
            return
        case "DirectoryOrCreate":
            if st == nil { try FileSystem.createDirectory(path, mode: 0o755) } else if !FileSystem.isDirectory(path) {
                throw VolumeError(volume: volume, message: "\(path) exists and is not a directory")
            }
        case "Directory":
            guard FileSystem.isDirectory(path) else { throw VolumeError(volume: volume, message: "hostPath type check failed: \(path) is not a directory") }
        case "FileOrCreate":
            if st == nil { try FileSystem.write(path, [], mode: 0o644) } else if st != S_IFREG {
                throw VolumeError(volume: volume, message: "\(path) exists and is not a file")
            }
        case "File":
            guard st == S_IFREG else { throw VolumeError(volume: volume, message: "hostPath type check failed: \(path) is not a file") }
        case "Socket":
            guard st == S_IFSOCK else { throw VolumeError(volume: volume, message: "hostPath type check failed: \(path) is not a socket file") }
        case "CharDevice":
            guard st == S_IFCHR else { throw VolumeError(volume: volume, message: "hostPath type check failed: \(path) is not a character device") }
        case "BlockDevice":
            guard st == S_IFBLK else { throw VolumeError(volume: volume, message: "hostPath type check failed: \(path) is not a block device") }
        default:
            throw VolumeError(volume: volume, message: "unknown hostPath type \(source.type ?? "")")
        }
    }

    /// The container's mounts for its volumeMounts. A subPath is created inside the volume if
    /// missing, opened beneath it, and bind-mounted to a stable path under the pod directory.
    func mounts(for container: Container, index: Int, volumes: [String: String], uid: String) throws -> [ContainerMount] {
        var result: [ContainerMount] = []
        for (i, m) in (container.volumeMounts ?? []).enumerated() {
            guard let source = volumes[m.name] else {
                throw VolumeError(volume: m.name, message: "container \(container.name) mounts a volume the pod does not define")
            }
            var hostPath = source
            if let sub = m.subPath, !sub.isEmpty {
                guard !sub.hasPrefix("/"), !sub.split(separator: "/").contains("..") else {
                    throw VolumeError(volume: m.name, message: "subPath \"\(sub)\" must be a relative path without '..'")
                }
                let target = podDir(uid) + "/volume-subpaths/\(m.name)/\(container.name)/\(i)"
                if !Mounts.isMountPoint(target) {
                    let fd: FileDescriptor
                    do { fd = try SafePath.openBeneath(root: source, sub, createDirectories: !FileSystem.exists(source + "/" + sub)) } catch {
                        throw VolumeError(volume: m.name, message: "subPath \"\(sub)\": \(error)")
                    }
                    defer { fd.close() }
                    let isDir = FileSystem.isDirectory(SafePath.procPath(fd))
                    try FileSystem.createDirectory(String(target[..<target.lastIndex(of: "/")!]))
                    if isDir { try FileSystem.createDirectory(target) } else if !FileSystem.exists(target) { try FileSystem.write(target, []) }
                    try Mounts.bind(SafePath.procPath(fd), to: target)
                }
                hostPath = target
            }
            result.append(ContainerMount(containerPath: m.mountPath, hostPath: hostPath, readOnly: m.readOnly ?? false))
        }
        return result
    }

    /// The file kubelet mounts at the container's terminationMessagePath.
    func terminationLogFile(uid: String, container: String, attempt: UInt32) throws -> String {
        let dir = podDir(uid) + "/containers/" + container
        try FileSystem.createDirectory(dir)
        let path = dir + "/termination-\(attempt)"
        if !FileSystem.exists(path) { try FileSystem.write(path, [], mode: 0o666) }
        return path
    }

    /// Unmounts and removes everything of the pod (after its sandbox is gone).
    func tearDown(uid: String) throws {
        let dir = podDir(uid)
        for point in Mounts.mountPoints(under: dir) { try Mounts.unmount(point) }
        try FileSystem.removeTree(dir)
    }

    /// Pod directories present on disk (to remove those of pods that no longer exist).
    func podUIDsOnDisk() -> [String] { (try? FileSystem.listDirectory(rootDir + "/pods")) ?? [] }
}

/// Writes configMap/secret/downwardAPI/projected volume contents atomically (API mode).
protocol SourcedVolumeWriter: Sendable {
    func write(_ volume: Volume, pod: Pod, into dir: String) async throws
}
