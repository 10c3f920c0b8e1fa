import CSQLite

/// A SQLite failure with the statement or call that failed and SQLite's own message.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let context: String
    public var description: String { "sqlite \(context): \(message) (code \(code))" }
}

/// One SQLite connection. Not thread-safe on its own: `Store` serializes every use behind a lock
/// (hence the unchecked Sendable).
final class SQLiteConnection: @unchecked Sendable {
    private var db: OpaquePointer?
    private var cache: [String: OpaquePointer] = [:]

    init(path: String) throws(SQLiteError) {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let msg = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw SQLiteError(code: rc, message: msg, context: "open \(path)")
        }
        db = handle
    }

    deinit {
        for (_, s) in cache { sqlite3_finalize(s) }
        sqlite3_close(db)
    }

    func exec(_ sql: String) throws(SQLiteError) {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "error"
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: msg, context: sql)
        }
    }

    /// A cached prepared statement, reset and with bindings cleared.
    func statement(_ sql: String) throws(SQLiteError) -> Statement {
        if let s = cache[sql] {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
            return Statement(stmt: s, conn: self, sql: sql)
        }
        var s: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
        guard rc == SQLITE_OK, let s else { throw error(rc, sql) }
        cache[sql] = s
        return Statement(stmt: s, conn: self, sql: sql)
    }

    func error(_ rc: Int32, _ context: String) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(db)), context: context)
    }

    var changes: Int { Int(sqlite3_changes(db)) }

    struct Statement {
        let stmt: OpaquePointer
        let conn: SQLiteConnection
        let sql: String

        func bind(_ idx: Int32, _ v: String) throws(SQLiteError) {
            let rc = sqlite3_bind_text(stmt, idx, v, -1, csqlite_transient())
            if rc != SQLITE_OK { throw conn.error(rc, sql) }
        }
        func bind(_ idx: Int32, _ v: Int64) throws(SQLiteError) {
            let rc = sqlite3_bind_int64(stmt, idx, v)
            if rc != SQLITE_OK { throw conn.error(rc, sql) }
        }
        func bind(_ idx: Int32, blob: [UInt8]) throws(SQLiteError) {
            let rc = blob.withUnsafeBytes { sqlite3_bind_blob(stmt, idx, $0.baseAddress, Int32($0.count), csqlite_transient()) }
            if rc != SQLITE_OK { throw conn.error(rc, sql) }
        }

        /// Steps once: true when a row is available.
        func step() throws(SQLiteError) -> Bool {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_ROW { return true }
            if rc == SQLITE_DONE { return false }
            throw conn.error(rc, sql)
        }

        func run() throws(SQLiteError) { _ = try step() }

        func int(_ col: Int32) -> Int64 { sqlite3_column_int64(stmt, col) }
        func text(_ col: Int32) -> String {
            guard let p = sqlite3_column_text(stmt, col) else { return "" }
            return String(cString: p)
        }
        func blob(_ col: Int32) -> [UInt8] {
            let n = Int(sqlite3_column_bytes(stmt, col))
            guard n > 0, let p = sqlite3_column_blob(stmt, col) else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: n))
        }
    }
}
