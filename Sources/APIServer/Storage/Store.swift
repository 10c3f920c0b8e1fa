import Synchronization

/// What a guaranteed update decided to do with the object it was shown.
public enum StoreWrite: Sendable {
    case put(JSON)
    case delete
    /// Leave storage as it is (a no-op update); the value is returned to the caller.
    case unchanged(JSON?)
}

public struct StoreWriteResult: Sendable {
    /// The object as stored (resourceVersion set), or the last state for a delete.
    public let object: JSON?
    public let type: WatchEventType?
    public let rv: Int64
}

/// Objects as Kubernetes JSON in one SQLite file (WAL), with one global resourceVersion.
///
/// Every write is one SQLite transaction committed before it is acknowledged: WAL frames reach
/// the file with the commit, so a `kill -9` cannot lose an acknowledged write (synchronous=NORMAL
/// only risks the tail on power loss, not on a process crash). Writes are serialized behind one
/// lock and published to the watch hub in commit order while the lock is held.
public final class Store: Sendable {
    private let db: Mutex<SQLiteConnection>
    /// A second connection that copies WAL frames into the database file in the background,
    /// so that no acknowledged write waits for a checkpoint.
    private let checkpointer: Mutex<SQLiteConnection>
    public let hub: WatchHub
    private let rvCounter: Atomic<Int64>

    public init(path: String, hubMaxEvents: Int = 10_000, hubMaxBytes: Int = 2 << 20) throws {
        let conn = try SQLiteConnection(path: path)
        try conn.exec("PRAGMA journal_mode=WAL")
        try conn.exec("PRAGMA synchronous=NORMAL")
        try conn.exec("PRAGMA busy_timeout=5000")
        try conn.exec("PRAGMA cache_size=-512")
        try conn.exec("PRAGMA wal_autocheckpoint=0")
        try conn.exec(
            """
            CREATE TABLE IF NOT EXISTS objects(
              resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
              uid TEXT NOT NULL, rv INTEGER NOT NULL, data BLOB NOT NULL,
              PRIMARY KEY(resource, namespace, name)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS objects_uid ON objects(uid);
            CREATE TABLE IF NOT EXISTS owners(
              owner_uid TEXT NOT NULL, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
              PRIMARY KEY(owner_uid, resource, namespace, name)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """)
        let st = try conn.statement("SELECT value FROM meta WHERE key='rv'")
        let rv = try st.step() ? st.int(0) : 0
        db = Mutex(conn)
        let cp = try SQLiteConnection(path: path)
        try cp.exec("PRAGMA busy_timeout=5000")
        try cp.exec("PRAGMA cache_size=-256")
        checkpointer = Mutex(cp)
        rvCounter = Atomic(rv)
        hub = WatchHub(startRV: rv, maxEvents: hubMaxEvents, maxBytes: hubMaxBytes)
    }

    /// Copies committed WAL frames into the database file without blocking writers (PASSIVE);
    /// the WAL restarts from its beginning once everything is copied. Called periodically.
    public func checkpoint() throws {
        try checkpointer.withLock { c in try c.exec("PRAGMA wal_checkpoint(PASSIVE)") }
    }

    /// The newest committed resourceVersion.
    public var currentRV: Int64 { rvCounter.load(ordering: .acquiring) }

    public func get(_ key: ObjectKey) throws -> JSON? {
        guard let bytes = try getRaw(key) else { return nil }
        return try JSON.parse(bytes)
    }

    public func getRaw(_ key: ObjectKey) throws -> [UInt8]? {
        try db.withLock { c in try Self.read(c, key) }
    }

    private static func read(_ c: SQLiteConnection, _ key: ObjectKey) throws(SQLiteError) -> [UInt8]? {
        let st = try c.statement("SELECT data FROM objects WHERE resource=?1 AND namespace=?2 AND name=?3")
        try st.bind(1, key.resource)
        try st.bind(2, key.namespace)
        try st.bind(3, key.name)
        return try st.step() ? st.blob(0) : nil
    }

    public struct ListPage: Sendable {
        public var items: [[UInt8]]
        public var rv: Int64
        /// The key of the last item when more remain (for `continue`).
        public var nextAfter: (namespace: String, name: String)?
    }

    /// Objects of one resource in (namespace, name) order, optionally after a key and limited.
    /// `filter` sees raw bytes and may reject cheaply before the caller decodes.
    public func list(
        resource: String, namespace: String?, after: (String, String)? = nil, limit: Int? = nil,
        filter: (([UInt8]) -> Bool)? = nil
    ) throws -> ListPage {
        try db.withLock { c in
            try Self.listLocked(c, resource: resource, namespace: namespace, after: after, limit: limit, filter: filter,
                                rv: rvCounter.load(ordering: .relaxed))
        }
    }

    private static func listLocked(
        _ c: SQLiteConnection, resource: String, namespace: String?, after: (String, String)?, limit: Int?,
        filter: (([UInt8]) -> Bool)?, rv: Int64
    ) throws -> ListPage {
        var sql = "SELECT namespace, name, data FROM objects WHERE resource=?1"
        if namespace != nil { sql += " AND namespace=?2" }
        if after != nil { sql += " AND (namespace, name) > (?3, ?4)" }
        sql += " ORDER BY namespace, name"
        let st = try c.statement(sql)
        try st.bind(1, resource)
        if let namespace { try st.bind(2, namespace) }
        if let after {
            try st.bind(3, after.0)
            try st.bind(4, after.1)
        }
        var page = ListPage(items: [], rv: rv, nextAfter: nil)
        var last: (String, String)?
        while try st.step() {
            if let limit, page.items.count >= limit {
                page.nextAfter = last
                break
            }
            let data = st.blob(2)
            if let filter, !filter(data) { continue }
            page.items.append(data)
            last = (st.text(0), st.text(1))
        }
        return page
    }

    /// Visits every stored object of a resource in pages, without keeping them and without
    /// holding the write lock while `body` runs: for controller scans over many objects.
    public func scan(resource: String, namespace: String?, pageSize: Int = 500, _ body: ([UInt8]) throws -> Void) throws {
        var after: (String, String)?
        repeat {
            let page = try list(resource: resource, namespace: namespace, after: after, limit: pageSize)
            for item in page.items { try body(item) }
            after = page.nextAfter.map { ($0.namespace, $0.name) }
        } while after != nil
    }

    /// Lists and subscribes atomically: no change is missed or seen twice between the two.
    public func listAndSubscribe(resource: String, namespace: String?) throws -> (ListPage, WatchHub.Subscription) {
        try db.withLock { c in
            let rv = rvCounter.load(ordering: .relaxed)
            let page = try Self.listLocked(c, resource: resource, namespace: namespace, after: nil, limit: nil, filter: nil, rv: rv)
            let sub = try hub.subscribe(resource: resource, namespace: namespace, fromRV: rv)
            return (page, sub)
        }
    }

    /// As `listAndSubscribe`, for a watcher that writes straight to its connection.
    public func listAndSubscribeDirect(resource: String, namespace: String?) throws -> (ListPage, WatchHub.DirectSubscription) {
        try db.withLock { c in
            let rv = rvCounter.load(ordering: .relaxed)
            let page = try Self.listLocked(c, resource: resource, namespace: namespace, after: nil, limit: nil, filter: nil, rv: rv)
            let sub = try hub.subscribeDirect(resource: resource, namespace: namespace, fromRV: rv)
            return (page, sub)
        }
    }

    public func subscribeDirect(resource: String, namespace: String?, fromRV: Int64) throws -> WatchHub.DirectSubscription {
        try hub.subscribeDirect(resource: resource, namespace: namespace, fromRV: fromRV)
    }

    public func subscribe(resource: String, namespace: String?, fromRV: Int64) throws -> WatchHub.Subscription {
        try hub.subscribe(resource: resource, namespace: namespace, fromRV: fromRV)
    }

    /// Reads the current object, lets `body` decide, and commits the outcome atomically with a
    /// new resourceVersion. `body` runs under the write lock: keep it short and free of I/O.
    @discardableResult
    public func update(_ key: ObjectKey, _ body: (JSON?) throws -> StoreWrite) throws -> StoreWriteResult {
        try db.withLock { c in
            let currentBytes = try Self.read(c, key)
            let current = try currentBytes.map { try JSON.parse($0) }
            let decision = try body(current)
            let rv = rvCounter.load(ordering: .relaxed) + 1
            switch decision {
            case .unchanged(let v):
                return StoreWriteResult(object: v ?? current, type: nil, rv: rvCounter.load(ordering: .relaxed))
            case .put(var obj):
                obj.setMeta("resourceVersion", .string(String(rv)))
                let data = obj.serialized()
                try c.exec("BEGIN")
                do {
                    let st = try c.statement("INSERT OR REPLACE INTO objects(resource, namespace, name, uid, rv, data) VALUES(?1,?2,?3,?4,?5,?6)")
                    try st.bind(1, key.resource)
                    try st.bind(2, key.namespace)
                    try st.bind(3, key.name)
                    try st.bind(4, obj.uid)
                    try st.bind(5, rv)
                    try st.bind(6, blob: data)
                    try st.run()
                    let oldOwners = current?.ownerUIDs ?? []
                    let newOwners = obj.ownerUIDs
                    if oldOwners != newOwners {
                        for o in oldOwners where !newOwners.contains(o) { try Self.removeOwner(c, o, key) }
                        for o in newOwners where !oldOwners.contains(o) { try Self.addOwner(c, o, key) }
                    }
                    try Self.saveRV(c, rv)
                    try c.exec("COMMIT")
                } catch {
                    try? c.exec("ROLLBACK")
                    throw error
                }
                rvCounter.store(rv, ordering: .releasing)
                let type: WatchEventType = current == nil ? .added : .modified
                hub.publish(StoreEvent(type: type, key: key, rv: rv, data: data, prevData: currentBytes, value: obj, prevValue: current))
                return StoreWriteResult(object: obj, type: type, rv: rv)
            case .delete:
                guard var last = current else { return StoreWriteResult(object: nil, type: nil, rv: rv - 1) }
                try c.exec("BEGIN")
                do {
                    let st = try c.statement("DELETE FROM objects WHERE resource=?1 AND namespace=?2 AND name=?3")
                    try st.bind(1, key.resource)
                    try st.bind(2, key.namespace)
                    try st.bind(3, key.name)
                    try st.run()
                    for o in last.ownerUIDs { try Self.removeOwner(c, o, key) }
                    try Self.saveRV(c, rv)
                    try c.exec("COMMIT")
                } catch {
                    try? c.exec("ROLLBACK")
                    throw error
                }
                rvCounter.store(rv, ordering: .releasing)
                last.setMeta("resourceVersion", .string(String(rv)))
                hub.publish(StoreEvent(type: .deleted, key: key, rv: rv, data: last.serialized(), prevData: nil, value: last))
                return StoreWriteResult(object: last, type: .deleted, rv: rv)
            }
        }
    }

    private static func saveRV(_ c: SQLiteConnection, _ rv: Int64) throws(SQLiteError) {
        let st = try c.statement("INSERT OR REPLACE INTO meta(key, value) VALUES('rv', ?1)")
        try st.bind(1, rv)
        try st.run()
    }

    private static func addOwner(_ c: SQLiteConnection, _ owner: String, _ key: ObjectKey) throws(SQLiteError) {
        let st = try c.statement("INSERT OR IGNORE INTO owners(owner_uid, resource, namespace, name) VALUES(?1,?2,?3,?4)")
        try st.bind(1, owner)
        try st.bind(2, key.resource)
        try st.bind(3, key.namespace)
        try st.bind(4, key.name)
        try st.run()
    }

    private static func removeOwner(_ c: SQLiteConnection, _ owner: String, _ key: ObjectKey) throws(SQLiteError) {
        let st = try c.statement("DELETE FROM owners WHERE owner_uid=?1 AND resource=?2 AND namespace=?3 AND name=?4")
        try st.bind(1, owner)
        try st.bind(2, key.resource)
        try st.bind(3, key.namespace)
        try st.bind(4, key.name)
        try st.run()
    }

    /// Objects whose ownerReferences name `ownerUID` (for the garbage collector).
    public func dependents(of ownerUID: String) throws -> [ObjectKey] {
        try db.withLock { c in
            let st = try c.statement("SELECT resource, namespace, name FROM owners WHERE owner_uid=?1")
            try st.bind(1, ownerUID)
            var out: [ObjectKey] = []
            while try st.step() { out.append(ObjectKey(st.text(0), st.text(1), st.text(2))) }
            return out
        }
    }

    /// Owner uids referenced by some object but stored nowhere: their dependents are garbage.
    public func missingOwners() throws -> [String] {
        try db.withLock { c in
            let st = try c.statement(
                "SELECT DISTINCT owner_uid FROM owners WHERE owner_uid NOT IN (SELECT uid FROM objects)")
            var out: [String] = []
            while try st.step() { out.append(st.text(0)) }
            return out
        }
    }

    /// The object with this uid, wherever it is stored.
    public func get(uid: String) throws -> (ObjectKey, JSON)? {
        let row: (ObjectKey, [UInt8])? = try db.withLock { c in
            let st = try c.statement("SELECT resource, namespace, name, data FROM objects WHERE uid=?1 LIMIT 1")
            try st.bind(1, uid)
            guard try st.step() else { return nil }
            return (ObjectKey(st.text(0), st.text(1), st.text(2)), st.blob(3))
        }
        guard let row else { return nil }
        return (row.0, try JSON.parse(row.1))
    }

    public func exists(uid: String) throws -> Bool {
        try db.withLock { c in
            let st = try c.statement("SELECT 1 FROM objects WHERE uid=?1 LIMIT 1")
            try st.bind(1, uid)
            return try st.step()
        }
    }

    public func count(resource: String) throws -> Int {
        try db.withLock { c in
            let st = try c.statement("SELECT count(*) FROM objects WHERE resource=?1")
            try st.bind(1, resource)
            return try st.step() ? Int(st.int(0)) : 0
        }
    }
}
