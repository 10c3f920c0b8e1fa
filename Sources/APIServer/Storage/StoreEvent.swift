/// Where one object lives: its resource ("pods", "deployments.apps"), namespace ("" for
/// cluster-scoped kinds) and name.
public struct ObjectKey: Hashable, Sendable, CustomStringConvertible {
    public var resource: String
    public var namespace: String
    public var name: String

    public init(_ resource: String, _ namespace: String, _ name: String) {
        self.resource = resource
        self.namespace = namespace
        self.name = name
    }

    public var description: String { namespace.isEmpty ? "\(resource)/\(name)" : "\(resource)/\(namespace)/\(name)" }
}

import NIOCore
import Synchronization

/// One serialized watch frame shared by every watcher that sends the event unchanged.
public final class FrameCache: Sendable {
    private let frame = Mutex<ByteBuffer?>(nil)

    func get(_ make: () -> ByteBuffer) -> ByteBuffer {
        frame.withLock { f in
            if let f { return f }
            let b = make()
            f = b
            return b
        }
    }
}

public enum WatchEventType: String, Sendable {
    case added = "ADDED"
    case modified = "MODIFIED"
    case deleted = "DELETED"
    case bookmark = "BOOKMARK"
    case error = "ERROR"
}

/// One committed change, as the watch hub fans it out. `data` is the object's stored JSON,
/// serialized once and shared by every watcher that needs no transformation.
public struct StoreEvent: Sendable {
    public let type: WatchEventType
    public let key: ObjectKey
    public let rv: Int64
    public let data: [UInt8]
    /// The object before this change (for modifications), so that selector watches can turn a
    /// change that leaves their selection into DELETED, as upstream's watch cache does.
    public let prevData: [UInt8]?
    /// The decoded object and its previous state, present only on live events (the store had
    /// them decoded already) so that selector watchers need not parse; history copies drop them
    /// to keep the window's memory proportional to the bytes.
    let value: JSON?
    let prevValue: JSON?
    /// The watch frame for this event, built by the first plain watcher and shared by the rest
    /// (live events only).
    let frames: FrameCache?

    init(type: WatchEventType, key: ObjectKey, rv: Int64, data: [UInt8], prevData: [UInt8]?,
         value: JSON? = nil, prevValue: JSON? = nil)
    {
        self.type = type
        self.key = key
        self.rv = rv
        self.data = data
        self.prevData = prevData
        self.value = value
        self.prevValue = prevValue
        frames = value == nil ? nil : FrameCache()
    }

    var byteCost: Int { data.count + (prevData?.count ?? 0) + 128 }

    /// The event as kept in the watch window: bytes only (decoded values and frames are
    /// rebuilt on demand), in storage of their own size. Serialization grows its buffer by
    /// doubling, so without the copy the window of 10k events held up to twice its byte budget.
    var forHistory: StoreEvent {
        StoreEvent(type: type, key: key, rv: rv, data: Self.compacted(data), prevData: prevData.map(Self.compacted))
    }

    private static func compacted(_ bytes: [UInt8]) -> [UInt8] {
        bytes.capacity - bytes.count <= bytes.count / 8 ? bytes : bytes.withUnsafeBufferPointer { Array($0) }
    }

    public func object() -> JSON { value ?? (try? JSON.parse(data)) ?? .null }
    public func previous() -> JSON? { prevValue ?? prevData.flatMap { try? JSON.parse($0) } }
}
