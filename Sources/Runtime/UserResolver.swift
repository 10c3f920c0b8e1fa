import LinuxPrimitives

/// Resolves the user a container runs as from the image's `User`, the pod's runAsUser and
/// runAsGroup, and the image's /etc/passwd and /etc/group (read from its layers, top first),
/// as containerd does: the passwd entry gives the primary group, /etc/group the extra ones.
struct UserResolver {
    let layers: [String]

    struct Identity: Equatable {
        var uid: UInt32
        var gid: UInt32
        var additionalGroups: [UInt32]
    }

    struct Entry {
        let name: String
        let id: UInt32
        let gid: UInt32
        let members: [String]
    }

    func resolve(image user: String, runAsUser: Int64?, runAsGroup: Int64?) throws -> Identity {
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        let userPart = runAsUser.map(String.init) ?? (parts.first ?? "")
        let groupPart = runAsGroup.map(String.init) ?? (runAsUser == nil && parts.count > 1 ? parts[1] : "")
        let passwd = entries("etc/passwd", idField: 2, groupField: 3)
        let groups = entries("etc/group", idField: 2, groupField: nil)
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var name = ""
        if userPart.isEmpty {
            name = passwd.first { $0.id == 0 }?.name ?? "root"
        } else if let numeric = UInt32(userPart) {
            uid = numeric
            if let entry = passwd.first(where: { $0.id == numeric }) {
                gid = entry.gid
                name = entry.name
            }
        } else if let entry = passwd.first(where: { $0.name == userPart }) {
            uid = entry.id
            gid = entry.gid
            name = entry.name
        } else {
            throw RuntimeError(.invalid, "unable to find user \(userPart): no matching entries in the image's /etc/passwd")
        }
        if !groupPart.isEmpty {
            if let numeric = UInt32(groupPart) { gid = numeric }
            else if let entry = groups.first(where: { $0.name == groupPart }) { gid = entry.id }
            else { throw RuntimeError(.invalid, "unable to find group \(groupPart): no matching entries in the image's /etc/group") }
        }
        let extra = name.isEmpty ? [] : groups.filter { $0.members.contains(name) && $0.id != gid }.map(\.id)
        return Identity(uid: uid, gid: gid, additionalGroups: extra)
    }

    /// `name:x:id:gid:...` lines of the topmost layer that has the file.
    func entries(_ relative: String, idField: Int, groupField: Int?) -> [Entry] {
        for layer in layers {
            let path = layer + "/" + relative
            guard let st = FileSystem.lstatOrNil(path), (st.st_mode & 0o170000) == 0o100000,
                  let text = try? FileSystem.readString(path) else { continue }
            return text.split(separator: "\n").compactMap { line in
                let f = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard f.count > idField, let id = UInt32(f[idField]) else { return nil }
                let gid = groupField.flatMap { f.count > $0 ? UInt32(f[$0]) : nil } ?? id
                let members = groupField == nil && f.count > 3 ? f[3].split(separator: ",").map(String.init) : []
                return Entry(name: f[0], id: id, gid: gid, members: members)
            }
        }
        return []
    }
}
