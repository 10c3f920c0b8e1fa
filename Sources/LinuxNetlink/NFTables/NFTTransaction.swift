/// A list of changes applied as one nf_tables batch: the kernel applies all of them or none
/// (the batch is one netlink transaction), so a ruleset never shows a half-made state. Build
/// it with the methods below, in dependency order (a chain before the rules that jump to it,
/// the references to a chain removed before the chain), then `NFTables.commit` it.
public struct NFTTransaction: Sendable {
    public enum Operation: Sendable, Hashable {
        case addTable(NFTTableRef)
        case deleteTable(NFTTableRef)
        /// Removes every rule of every chain of the table (chains and sets stay).
        case flushTable(NFTTableRef)
        case addChain(NFTChain)
        case deleteChain(NFTTableRef, String)
        case flushChain(NFTTableRef, String)
        case addRule(NFTRule)
        case deleteRule(NFTTableRef, chain: String, handle: UInt64)
        case addSet(NFTSet)
        case deleteSet(NFTSetRef)
        case flushSet(NFTSetRef)
        case addElements(NFTSetRef, [NFTSetElement], IntervalEncoding)
        case deleteElements(NFTSetRef, [NFTSetElement], IntervalEncoding)
    }

    /// How ranges reach the kernel: concatenated interval sets take the end key in the same
    /// element; single-field interval sets take a second element flagged as the interval end.
    public enum IntervalEncoding: Sendable, Hashable {
        case none, keyEnd, endElement
    }

    public private(set) var operations: [Operation] = []

    public init() {}

    public var isEmpty: Bool { operations.isEmpty }
    public var count: Int { operations.count }

    public mutating func append(_ operation: Operation) { operations.append(operation) }
    public mutating func append(contentsOf other: NFTTransaction) { operations.append(contentsOf: other.operations) }

    /// Creates the table if missing (no error when it exists).
    public mutating func add(table: NFTTableRef) { operations.append(.addTable(table)) }

    /// Deletes the table and everything in it. With `ifExists`, first adds it so the delete
    /// cannot fail with ENOENT (works on every kernel, unlike NFT_MSG_DESTROY*).
    public mutating func delete(table: NFTTableRef, ifExists: Bool = false) {
        if ifExists { operations.append(.addTable(table)) }
        operations.append(.deleteTable(table))
    }

    public mutating func flush(table: NFTTableRef) { operations.append(.flushTable(table)) }

    /// Creates the chain if missing. For an existing base chain the hook and priority must
    /// match: to change them, delete the chain first in the same transaction.
    public mutating func add(chain: NFTChain) { operations.append(.addChain(chain)) }

    /// Deletes a chain with its rules; fails (EBUSY) while a rule or map element still jumps to
    /// it, so remove those earlier in the same transaction.
    public mutating func delete(chain name: String, in table: NFTTableRef, ifExists: Bool = false) {
        if ifExists { operations.append(.addChain(NFTChain(table: table, name: name))) }
        operations.append(.deleteChain(table, name))
    }

    public mutating func flush(chain name: String, in table: NFTTableRef) { operations.append(.flushChain(table, name)) }

    /// Appends a rule at the end of its chain.
    public mutating func add(rule: NFTRule) { operations.append(.addRule(rule)) }

    public mutating func delete(ruleHandle handle: UInt64, chain: String, in table: NFTTableRef) {
        operations.append(.deleteRule(table, chain: chain, handle: handle))
    }

    /// Creates the set if missing; an existing set must have the same type and flags.
    public mutating func add(set: NFTSet) { operations.append(.addSet(set)) }

    public mutating func delete(set: NFTSetRef) { operations.append(.deleteSet(set)) }

    public mutating func flush(set: NFTSetRef) { operations.append(.flushSet(set)) }

    /// Adds elements to a set or map. Adding an element that exists with the same value is
    /// not an error; with a different value it is (EBUSY), so delete it first.
    public mutating func add(elements: [NFTSetElement], to set: NFTSetRef, interval: IntervalEncoding = .none) {
        guard !elements.isEmpty else { return }
        operations.append(.addElements(set, elements, interval))
    }

    /// Adds elements, choosing the interval encoding from the set's definition.
    public mutating func add(elements: [NFTSetElement], to set: NFTSet) {
        add(elements: elements, to: NFTSetRef(table: set.table, name: set.name), interval: set.intervalEncoding)
    }

    /// Deletes elements by key (values are ignored); each must exist.
    public mutating func delete(elements: [NFTSetElement], from set: NFTSetRef, interval: IntervalEncoding = .none) {
        guard !elements.isEmpty else { return }
        operations.append(.deleteElements(set, elements, interval))
    }

    public mutating func delete(elements: [NFTSetElement], from set: NFTSet) {
        delete(elements: elements, from: NFTSetRef(table: set.table, name: set.name), interval: set.intervalEncoding)
    }
}

extension NFTSet {
    /// How this set's ranges are sent (see `NFTTransaction.IntervalEncoding`).
    public var intervalEncoding: NFTTransaction.IntervalEncoding {
        guard flags.contains(.interval) else { return .none }
        return keyType.fieldLengths.count > 1 ? .keyEnd : .endElement
    }
}

extension NFTTransaction.Operation: CustomStringConvertible {
    /// What the operation does, in nft's words, for error messages.
    public var description: String {
        switch self {
        case .addTable(let t): return "add table \(t)"
        case .deleteTable(let t): return "delete table \(t)"
        case .flushTable(let t): return "flush table \(t)"
        case .addChain(let c):
            if let b = c.base {
                return "add chain \(c.table) \(c.name) { type \(b.type.rawValue) hook \(b.hook) priority \(b.priority) }"
            }
            return "add chain \(c.table) \(c.name)"
        case .deleteChain(let t, let c): return "delete chain \(t) \(c)"
        case .flushChain(let t, let c): return "flush chain \(t) \(c)"
        case .addRule(let r):
            let comment = r.comment.map { " comment \"\($0)\"" } ?? ""
            return "add rule \(r.table) \(r.chain) (\(r.expressions.count) expressions\(comment))"
        case .deleteRule(let t, let c, let h): return "delete rule \(t) \(c) handle \(h)"
        case .addSet(let s): return "add \(s.dataType == nil ? "set" : "map") \(s.table) \(s.name)"
        case .deleteSet(let s): return "delete set \(s.table) \(s.name)"
        case .flushSet(let s): return "flush set \(s.table) \(s.name)"
        case .addElements(let s, let e, _): return "add element \(s.table) \(s.name) (\(e.count) elements)"
        case .deleteElements(let s, let e, _): return "delete element \(s.table) \(s.name) (\(e.count) elements)"
        }
    }
}
