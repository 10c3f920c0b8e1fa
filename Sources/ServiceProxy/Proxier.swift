import Foundation
import KubeAPI
import LinuxNetlink
import Logging

/// The service proxy: keeps this node's nftables in step with Services and EndpointSlices.
/// Feed it events (or whole snapshots) from a directory watcher or an API-server watch; `run()`
/// syncs at most once per `minSyncPeriod` (kube-proxy's rule), each sync one atomic batch
/// touching only the services that changed. A refused batch makes the next sync a full one,
/// which rebuilds our tables from scratch in a single transaction, as the first sync does.
public actor Proxier {
    public let config: ProxyConfig
    let backend: ProxyBackend
    let logger: Logger
    let minSyncPeriod: Duration
    let syncPeriod: Duration

    var inventory = ServiceInventory()
    var applied: [ServiceName: Fragment] = [:]
    var owners = ElementOwners()
    /// The shared pick chains our tables have.
    var appliedPicks: Set<PickChain> = []
    var appliedUDP: [ServiceName: [UDPTarget]] = [:]
    var needFullSync = true
    var nodePortAddresses: [IPAddress] = []
    var pendingTriggers: [Date] = []
    public private(set) var metrics = ProxyMetrics()
    /// The most recent refusals of malformed objects, newest last (for logs and tests).
    public private(set) var invalidObjects: [InvalidObjectError] = []
    public private(set) var syncCount = 0
    var loggedRejections: [String: String] = [:]
    public private(set) var lastTransactionSize = 0
    /// Where the last sync's time went, for benchmarks and debug logs.
    public private(set) var lastSyncPhases = SyncPhases()

    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    /// The pseudo-owner of node-level elements (the NodePort address set).
    static let nodeOwner = ServiceName(namespace: "", name: "node")

    public init(config: ProxyConfig, backend: ProxyBackend, logger: Logger = Logger(label: "swiftlet.proxy"),
                minSyncPeriod: Duration = .seconds(1), syncPeriod: Duration = .seconds(30)) {
        self.config = config
        self.backend = backend
        self.logger = logger
        self.minSyncPeriod = minSyncPeriod
        self.syncPeriod = syncPeriod
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: inputs

    /// A Service was added or changed. Changes that do not affect the proxy cost nothing.
    public func update(service: Service) {
        var changed = false
        if let error = inventory.update(service, changed: &changed) { reject(error) }
        guard changed else { return }
        metrics.serviceChanges += 1
        wake.yield()
    }

    public func delete(service namespace: String, name: String) {
        guard inventory.services[ServiceName(namespace: namespace, name: name)] != nil else { return }
        metrics.serviceChanges += 1
        inventory.delete(service: ServiceName(namespace: namespace, name: name))
        wake.yield()
    }

    /// An EndpointSlice was added or changed.
    public func update(slice: EndpointSlice) {
        var changed = false
        if let error = inventory.update(slice, changed: &changed) { reject(error) }
        guard changed else { return }
        metrics.endpointChanges += 1
        pendingTriggers.append(Self.triggerTime(slice) ?? Date())
        wake.yield()
    }

    public func delete(slice namespace: String, name: String) {
        guard inventory.slices[.init(namespace: namespace, name: name)] != nil else { return }
        metrics.endpointChanges += 1
        pendingTriggers.append(Date())
        inventory.delete(slice: .init(namespace: namespace, name: name))
        wake.yield()
    }

    /// Replaces everything known with a snapshot (a relist, or a re-read directory): objects
    /// missing from it are deleted; unchanged ones cost nothing at the next sync.
    public func replaceAll(services: [Service], slices: [EndpointSlice]) {
        let serviceNames = Set(services.map { ServiceName(namespace: $0.metadata.namespace ?? "default", name: $0.metadata.name ?? "") })
        for name in inventory.services.keys where !serviceNames.contains(name) { delete(service: name.namespace, name: name.name) }
        let sliceKeys = Set(slices.map { ServiceInventory.SliceKey(namespace: $0.metadata.namespace ?? "default", name: $0.metadata.name ?? "") })
        for key in inventory.slices.keys where !sliceKeys.contains(key) { delete(slice: key.namespace, name: key.name) }
        for service in services { update(service: service) }
        for slice in slices { update(slice: slice) }
    }

    /// Records a malformed object: logged once per change, counted, and left out of the ruleset.
    func reject(_ error: InvalidObjectError) {
        let key = "\(error.kind) \(error.object)"
        guard loggedRejections[key] != error.description else { return }
        loggedRejections[key] = error.description
        metrics.invalidObjects += 1
        invalidObjects.append(error)
        if invalidObjects.count > 100 { invalidObjects.removeFirst(invalidObjects.count - 100) }
        logger.error("\(error)")
    }

    static func triggerTime(_ slice: EndpointSlice) -> Date? {
        guard let text = slice.metadata.annotations?["endpoints.kubernetes.io/last-change-trigger-time"] else { return nil }
        return KubeTime.parse(text)
    }

    /// Asks for a full resync at the next sync (e.g. after node addresses changed).
    public func requestFullSync() {
        needFullSync = true
        wake.yield()
    }

    // MARK: sync loop

    /// Syncs whenever something changed, at most once per `minSyncPeriod`, and at least once
    /// per `syncPeriod` (to pick up node address changes); returns when cancelled.
    public func run() async {
        var iterator = wakeups.makeAsyncIterator()
        let clock = ContinuousClock()
        var lastSync = clock.now - minSyncPeriod
        wake.yield()
        await withTaskGroup(of: Void.self) { group in
            let period = syncPeriod
            let wake = self.wake
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: period)
                    wake.yield()
                }
            }
            while !Task.isCancelled {
                guard await iterator.next(isolation: self) != nil else { break }
                let earliest = lastSync + minSyncPeriod
                if clock.now < earliest { try? await Task.sleep(until: earliest, clock: clock) }
                if Task.isCancelled { break }
                lastSync = clock.now
                if !sync() {
                    // Retry (as a full sync) after a pause rather than spinning.
                    try? await Task.sleep(for: minSyncPeriod > .seconds(1) ? minSyncPeriod : .seconds(1))
                    wake.yield()
                }
            }
            group.cancelAll()
        }
    }

    /// One sync now; true when our tables match the inputs afterwards.
    @discardableResult
    public func sync() -> Bool {
        let started = Date()
        let clock = ContinuousClock.now
        defer { metrics.syncDuration.observe((ContinuousClock.now - clock).seconds) }
        syncCount += 1
        let builder = ServiceRuleBuilder(config: config)
        var changedNames = inventory.dirty
        var newFragments: [ServiceName: Fragment] = [:]
        let transaction: NFTTransaction
        let wasFull = needFullSync
        // Full syncs build claims afresh; incremental ones update them in place (no copy of
        // a table-sized dictionary per sync): a refused batch forces a full sync, which
        // rebuilds them, so in-place updates never outlive a failure.
        var newOwners = ElementOwners()
        var newPicks = appliedPicks
        var nodeFragment: Fragment?
        if !config.nodePortsMatchAll {
            let addresses = currentNodePortAddresses()
            if addresses != nodePortAddresses || wasFull {
                nodePortAddresses = addresses
                nodeFragment = nodeAddressFragment(addresses)
                changedNames.insert(Self.nodeOwner)
            }
        }
        func build(_ name: ServiceName) -> Fragment {
            if name == Self.nodeOwner { return nodeFragment ?? applied[name] ?? Fragment() }
            guard let ports = inventory.services[name] else { return Fragment() }
            return builder.fragment(ports: ports, endpoints: inventory.endpoints(of: name))
        }
        if wasFull {
            newFragments.reserveCapacity(inventory.services.count + 1)
            for (name, ports) in inventory.services {
                let fragment = builder.fragment(ports: ports, endpoints: inventory.endpoints(of: name))
                if !fragment.isEmpty { newFragments[name] = fragment }
            }
            if !config.nodePortsMatchAll, let node = nodeFragment, !node.isEmpty { newFragments[Self.nodeOwner] = node }
            newOwners = ElementOwners(capacity: newFragments.values.reduce(0) { $0 + $1.elements.count })
            newPicks = PickChain.prepared(families: config.families)
            for (name, fragment) in newFragments {
                for (key, value) in fragment.elements { newOwners.set(name, key, value) }
                newPicks.formUnion(fragment.picks)
            }
            transaction = SyncPlanner(config: config).fullSync(fragments: newFragments, owners: newOwners, picks: newPicks)
        } else {
            var changes: [ServiceName: (old: Fragment, new: Fragment)] = [:]
            for name in changedNames {
                let new = build(name), old = applied[name] ?? Fragment()
                newFragments[name] = new
                if new != old { changes[name] = (old, new) }
            }
            transaction = SyncPlanner(config: config).incremental(changes: changes, owners: &owners, picks: &newPicks)
        }
        lastTransactionSize = transaction.count
        let planned = ContinuousClock.now
        if !transaction.isEmpty {
            do {
                try backend.apply(transaction)
            } catch {
                metrics.syncFailures += 1
                needFullSync = true
                logger.error("nftables sync failed (\(transaction.count) operations, full resync next): \(error)")
                return false
            }
        }
        // Committed: this is now what the kernel has.
        let committed = ContinuousClock.now
        var oldUDP: [ServiceName: [UDPTarget]] = [:]
        if wasFull {
            oldUDP = appliedUDP
            applied = newFragments
            owners = newOwners
            appliedUDP = [:]
            for (name, ports) in inventory.services where ports.contains(where: { $0.proto == .udp }) { appliedUDP[name] = udpTargets(name) }
            changedNames = Set(oldUDP.keys).union(appliedUDP.keys)
        } else {
            for name in changedNames {
                oldUDP[name] = appliedUDP[name]
                let fragment = newFragments[name] ?? Fragment()
                applied[name] = fragment.isEmpty ? nil : fragment
                let udp = udpTargets(name)
                appliedUDP[name] = udp.isEmpty ? nil : udp
            }
        }
        appliedPicks = newPicks
        inventory.dirty = []
        needFullSync = false
        cleanConntrack(old: oldUDP, names: changedNames)
        let now = Date()
        metrics.lastSyncTimestamp = now.timeIntervalSince1970
        for trigger in pendingTriggers { metrics.networkProgrammingDuration.observe(max(0, now.timeIntervalSince(trigger))) }
        pendingTriggers = []
        let finished = ContinuousClock.now
        lastSyncPhases = SyncPhases(plan: (planned - clock).seconds, commit: (committed - planned).seconds,
                                    bookkeeping: (finished - committed).seconds, operations: transaction.count)
        logger.debug("synced \(wasFull ? newFragments.count : changedNames.count) services, \(transaction.count) operations\(wasFull ? " (full)" : "") in \(now.timeIntervalSince(started)) s")
        return true
    }

    func currentNodePortAddresses() -> [IPAddress] {
        do {
            return try backend.localAddresses()
                .filter { ip in !ip.isLoopback && config.nodePortAddresses.contains { $0.contains(ip) } }
                .sorted()
        } catch {
            logger.error("cannot list node addresses for --nodeport-addresses: \(error)")
            return nodePortAddresses
        }
    }

    func nodeAddressFragment(_ addresses: [IPAddress]) -> Fragment {
        var f = Fragment()
        for ip in addresses where config.families.contains(ip.family) {
            f.add(ip.family.nft, .nodePortIPs, ElementBytes(ip.bytes), .member)
        }
        return f
    }
}

/// How long each part of a sync took: building the model's fragments and the transaction,
/// encoding and committing it (the kernel's share included), and recording what was applied.
public struct SyncPhases: Sendable, Equatable {
    public var plan: Double = 0
    public var commit: Double = 0
    public var bookkeeping: Double = 0
    public var operations = 0
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
