import Foundation
import KubeAPI

/// A directory of Service and EndpointSlice manifests (YAML or JSON, several documents per
/// file allowed, any file name but hidden ones): read whole into a snapshot, and polled for changes. Files are usually
/// replaced by rename, which polling sees as a new inode or mtime as reliably as inotify.
public struct ManifestDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// What the directory holds now, plus every document that could not be used (named by
    /// file and field, the rest of the directory unaffected).
    public struct Snapshot: Sendable {
        public var services: [Service] = []
        public var slices: [EndpointSlice] = []
        public var errors: [ManifestError] = []
    }

    /// A cheap fingerprint of the directory (names, sizes, mtimes, inodes) to detect changes.
    public func fingerprint() -> [String: String] {
        var out: [String: String] = [:]
        for name in manifestFiles() {
            let full = (path as NSString).appendingPathComponent(name)
            guard let a = try? FileManager.default.attributesOfItem(atPath: full) else { continue }
            let mtime = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            out[name] = "\(a[.size] ?? 0)/\(mtime)/\(a[.systemFileNumber] ?? 0)"
        }
        return out
    }

    /// Like kubelet's static-pod directory: every regular file not hidden (dot files) and not
    /// an editor backup (`~`), whatever its extension; each is parsed as YAML or JSON.
    func manifestFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { name in
            guard !name.hasPrefix("."), !name.hasSuffix("~") else { return false }
            var isDirectory: ObjCBool = false
            let full = (path as NSString).appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
    }

    public func read() -> Snapshot {
        var snapshot = Snapshot()
        for name in manifestFiles() {
            let file = (path as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: file) else {
                snapshot.errors.append(ManifestError(path: file, field: "", message: "cannot read"))
                continue
            }
            Self.parse(String(decoding: data, as: UTF8.self), file: file, into: &snapshot)
        }
        return snapshot
    }

    /// Adds the objects of one file's text to `snapshot`; `kind: List` items are unpacked.
    public static func parse(_ text: String, file: String, into snapshot: inout Snapshot) {
        let documents: [JSONValue]
        do { documents = try Manifest.documents(text, path: file) } catch let error as ManifestError {
            snapshot.errors.append(error)
            return
        } catch {
            snapshot.errors.append(ManifestError(path: file, field: "", message: "\(error)"))
            return
        }
        var queue = documents.enumerated().map { ("document \($0.offset)", $0.element) }
        while !queue.isEmpty {
            let (label, doc) = queue.removeFirst()
            let where_ = "\(file) (\(label))"
            switch doc["kind"]?.stringValue {
            case "Service":
                do { snapshot.services.append(try Manifest.decode(Service.self, from: doc, path: where_)) } catch let error as ManifestError {
                    snapshot.errors.append(error)
                } catch { snapshot.errors.append(ManifestError(path: where_, field: "", message: "\(error)")) }
            case "EndpointSlice":
                do { snapshot.slices.append(try Manifest.decode(EndpointSlice.self, from: doc, path: where_)) } catch let error as ManifestError {
                    snapshot.errors.append(error)
                } catch { snapshot.errors.append(ManifestError(path: where_, field: "", message: "\(error)")) }
            case "List", "ServiceList", "EndpointSliceList":
                for (i, item) in (doc["items"]?.arrayValue ?? []).enumerated() { queue.append(("\(label) items[\(i)]", item)) }
            default:
                continue  // other kinds are not ours
            }
        }
    }
}
