import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// How one watcher turns store events into what it sends: selector filtering with
/// enter/leave translated to ADDED/DELETED (as upstream's watch cache does), bookmarks,
/// and Table rows for `kubectl get -w`.
struct WatchFilter: Sendable {
    let resource: ResourceType
    let labels: LabelSelector?
    let fields: FieldSelector?
    let name: String?
    let bookmarks: Bool
    let table: Bool
    let includeObject: String

    var selects: Bool { labels != nil || fields != nil || name != nil }

    func matches(_ obj: JSON) -> Bool {
        if let name, obj.name != name { return false }
        if let labels, !labels.matches(obj.labels) { return false }
        if let fields, !fields.matches(obj) { return false }
        return true
    }

    /// The event type to send for a store event, or nil to skip it.
    func translate(_ e: StoreEvent) -> (WatchEventType, JSON?)? {
        guard selects else { return (e.type, nil) }
        let obj = e.object()
        let now = matches(obj)
        switch e.type {
        case .added: return now ? (.added, obj) : nil
        case .deleted: return now ? (.deleted, obj) : nil
        case .modified:
            let before = e.previous().map(matches) ?? false
            if now { return (before ? .modified : .added, obj) }
            return before ? (.deleted, obj) : nil
        default: return nil
        }
    }

    func frame(_ type: WatchEventType, data: [UInt8], object: JSON?, first: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 40)
        out.append(contentsOf: Array("{\"type\":\"\(type.rawValue)\",\"object\":".utf8))
        if table {
            let obj = object ?? ((try? JSON.parse(data)) ?? .null)
            let row = Tables.row(resource, obj, includeObject: includeObject, now: Date())
            Tables.table(resource, rows: [row], resourceVersion: obj.resourceVersion, continueToken: nil, withColumns: first)
                .write(into: &out)
        } else if let object, data.isEmpty {
            object.write(into: &out)
        } else {
            out.append(contentsOf: data)
        }
        out.append(contentsOf: Array("}\n".utf8))
        return out
    }

    func bookmark(rv: Int64, initialEventsEnd: Bool = false) -> [UInt8] {
        var meta = JSONObject()
        meta["resourceVersion"] = .string(String(rv))
        meta["creationTimestamp"] = .null
        if initialEventsEnd { meta["annotations"] = .obj(["k8s.io/initial-events-end": "true"]) }
        let obj = JSON.obj(["kind": .string(resource.kind), "apiVersion": .string(resource.apiVersion), "metadata": .object(meta)])
        return Array("{\"type\":\"BOOKMARK\",\"object\":\(obj.text)}\n".utf8)
    }
}

/// Per-watch state the sink touches from whichever thread publishes.
final class WatchProgress: Sendable {
    let first = Atomic<Bool>(true)
    /// Events offered while the connection was not writable, in a row.
    let backlog = Atomic<Int>(0)

    /// True exactly once: the first Table event carries the column definitions.
    func takeFirst() -> Bool { first.exchange(false, ordering: .relaxed) }
}

extension APIHandler {
    /// Events a watcher may be offered while its socket stays full before it is cut off
    /// (the client re-watches from its last resourceVersion).
    static let maxBacklog = 2048

    func watch(_ r: ResourceType, _ ns: String, _ name: String, _ req: HTTPRequest) throws -> HTTPResponse {
        let (labels, fields) = try selectors(r, req)
        let filter = WatchFilter(
            resource: r, labels: labels, fields: fields, name: name.isEmpty ? nil : name,
            bookmarks: ["true", "1"].contains(req.param("allowWatchBookmarks") ?? ""),
            table: wantsTable(req), includeObject: req.param("includeObject") ?? "Metadata")
        let rvParam = req.param("resourceVersion") ?? ""
        let sendInitial = req.param("sendInitialEvents") == "true"
        let namespace: String? = r.namespaced && !ns.isEmpty ? ns : nil
        var timeout = Int.random(in: watchTimeout)
        if let t = req.param("timeoutSeconds"), let v = Int(t), v > 0 { timeout = v }

        var initial: [[UInt8]] = []
        let sub: WatchHub.DirectSubscription
        var initialRV: Int64 = 0
        if rvParam.isEmpty || rvParam == "0" || sendInitial {
            let (page, s) = try registry.store.listAndSubscribeDirect(resource: r.storageKey, namespace: namespace)
            initial = page.items
            initialRV = page.rv
            sub = s
        } else {
            guard let rv = Int64(rvParam) else {
                throw APIError.badRequest("invalid resource version: \(rvParam)")
            }
            do {
                sub = try registry.store.subscribeDirect(resource: r.storageKey, namespace: namespace, fromRV: rv)
            } catch let e as WatchHub.TooOld {
                // As upstream: the watch opens, then says 410 Expired in an ERROR event.
                let status = APIError.gone("too old resource version: \(e.requested) (\(e.oldest))").status
                let frame = Array("{\"type\":\"ERROR\",\"object\":\(status.text)}\n".utf8)
                return .stream(.ok, ["Content-Type": "application/json"]) { w in try await w.write(frame) }
            }
        }
        let contentType = filter.table ? Self.tableContentType : "application/json"
        let (timeoutSeconds, initialItems, startRV) = (timeout, initial, initialRV)
        let hub = registry.store.hub
        let batchers = self.batchers
        return .stream(.ok, ["Content-Type": contentType]) { writer in
            let progress = WatchProgress()
            let channel = writer.channel
            let batcher = batchers.batcher(for: channel.eventLoop)
            @Sendable func send(_ bytes: [UInt8]) { batcher.send(ChunkFraming.frame(bytes), on: channel) }
            for bytes in initialItems {
                guard let obj = try? JSON.parse(bytes), filter.matches(obj) else { continue }
                send(filter.frame(.added, data: bytes, object: obj, first: filter.table && progress.takeFirst()))
            }
            if sendInitial, filter.bookmarks { send(filter.bookmark(rv: startRV, initialEventsEnd: true)) }
            for e in sub.replay {
                guard let (type, obj) = filter.translate(e) else { continue }
                send(filter.frame(type, data: e.data, object: obj, first: filter.table && progress.takeFirst()))
            }
            // From here each change is written from where it is published, in commit order.
            sub.sink.activate { e in
                guard channel.isActive else { return false }
                if channel.isWritable {
                    progress.backlog.store(0, ordering: .relaxed)
                } else if progress.backlog.wrappingAdd(1, ordering: .relaxed).newValue > Self.maxBacklog {
                    channel.close(promise: nil)
                    return false
                }
                if e.type == .bookmark {
                    if filter.bookmarks { send(filter.bookmark(rv: e.rv)) }
                    return true
                }
                if !filter.selects, !filter.table, let frames = e.frames {
                    // The common case: the same bytes for every watcher of this resource.
                    let buf = frames.get { ChunkFraming.frame(filter.frame(e.type, data: e.data, object: nil, first: false)) }
                    batcher.send(buf, on: channel)
                    return true
                }
                guard let (type, obj) = filter.translate(e) else { return true }
                send(filter.frame(type, data: e.data, object: obj, first: filter.table && progress.takeFirst()))
                return true
            }
            await withTaskGroup(of: Void.self) { g in
                g.addTask { try? await channel.closeFuture.get() }
                g.addTask { try? await Task.sleep(for: .seconds(timeoutSeconds)) }
                g.addTask { await withCheckedContinuation { c in sub.sink.onClose { c.resume() } } }
                _ = await g.next()
                // Whatever ended first (client gone, timeout, watcher dropped), end the others.
                hub.unsubscribe(sub.id)
                channel.close(promise: nil)
                g.cancelAll()
            }
        }
    }
}
