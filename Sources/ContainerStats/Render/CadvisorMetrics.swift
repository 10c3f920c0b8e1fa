import LinuxNetlink
import LinuxPrimitives

/// `/metrics/cadvisor`: the series kubelet's embedded cAdvisor exposes, with the same names,
/// types and labels (`container, id, image, name, namespace, pod` plus per-family extras), for
/// the root "/", the system containers, every pod cgroup and every container. A series whose
/// kernel source does not exist on this host is left out, never filled with zero.
public enum CadvisorMetrics {
    public static let contentType = PrometheusTextWriter.contentType

    public static func render(_ snapshot: StatsSnapshot) -> [UInt8] {
        let rows = CadvisorRow.rows(snapshot)
        var w = PrometheusTextWriter(capacity: 4096 + rows.count * 6144)
        for family in families {
            if !rows.contains(where: family.present) { continue }
            w.header(family.name, help: family.help, kind: family.kind)
            for row in rows where family.present(row) {
                family.write(row, family.name, &w)
            }
        }
        let errors = !snapshot.node.errors.isEmpty
            || snapshot.pods.contains { ($0.sample?.errors.isEmpty == false) || $0.containers.contains { !$0.sample.errors.isEmpty } }
        w.header("container_scrape_error", help: "1 if the last housekeeping round had errors reading container metrics, 0 otherwise.",
                 kind: .gauge)
        w.series("container_scrape_error", .empty)
        w.value(UInt64(errors ? 1 : 0))
        machine(snapshot.machine, into: &w)
        return w.compactBytes
    }

    static func machine(_ machine: MachineInfo, into w: inout PrometheusTextWriter) {
        let labels = PrometheusTextWriter.Labels([("boot_id", machine.bootID), ("machine_id", machine.machineID),
                                                  ("system_uuid", machine.systemUUID)])
        func gauge(_ name: String, _ help: String, _ value: UInt64) {
            w.header(name, help: help, kind: .gauge)
            w.series(name, labels)
            w.value(value)
        }
        if machine.numPhysicalCores > 0 { gauge("machine_cpu_physical_cores", "Physical CPU cores of the machine.", UInt64(machine.numPhysicalCores)) }
        if machine.numCores > 0 { gauge("machine_cpu_cores", "Logical CPU cores of the machine.", UInt64(machine.numCores)) }
        if machine.numSockets > 0 { gauge("machine_cpu_sockets", "CPU sockets of the machine.", UInt64(machine.numSockets)) }
        if machine.memoryCapacity > 0 { gauge("machine_memory_bytes", "Memory installed in the machine, in bytes.", machine.memoryCapacity) }
        gauge("machine_swap_bytes", "Swap space of the machine, in bytes.", machine.swapCapacity)
        w.header("machine_scrape_error", help: "1 if reading the machine description failed, 0 otherwise.", kind: .gauge)
        w.series("machine_scrape_error", .empty)
        w.value(UInt64(machine.memoryCapacity == 0 || machine.numCores == 0 ? 1 : 0))
    }

    struct Family: Sendable {
        var name: String
        var help: String
        var kind: PrometheusTextWriter.Kind
        var present: @Sendable (CadvisorRow) -> Bool
        var write: @Sendable (CadvisorRow, String, inout PrometheusTextWriter) -> Void
    }

    // MARK: family helpers

    /// A single-sample family from an optional integer.
    static func number(_ name: String, _ kind: PrometheusTextWriter.Kind, _ help: String, _ extra: [PrometheusTextWriter.ExtraLabel] = [],
                       _ get: @escaping @Sendable (CadvisorRow) -> UInt64?) -> Family {
        Family(name: name, help: help, kind: kind, present: { get($0) != nil }) { row, name, w in
            guard let value = get(row) else { return }
            w.series(name, row.labels, extra)
            w.value(value, timestamp: row.timestamp)
        }
    }

    /// A single-sample family from an optional microsecond counter, exposed in seconds.
    static func seconds(_ name: String, _ help: String, _ get: @escaping @Sendable (CadvisorRow) -> UInt64?) -> Family {
        Family(name: name, help: help, kind: .counter, present: { get($0) != nil }) { row, name, w in
            guard let value = get(row) else { return }
            w.series(name, row.labels)
            w.value(micros: value, timestamp: row.timestamp)
        }
    }

    static func perInterface(_ name: String, _ help: String, _ get: @escaping @Sendable (InterfaceCounters) -> UInt64) -> Family {
        Family(name: name, help: help, kind: .counter, present: { $0.network?.interfaces.isEmpty == false }) { row, name, w in
            for link in row.network?.interfaces ?? [] {
                w.series(name, row.labels, [PrometheusTextWriter.ExtraLabel("interface", link.name)])
                w.value(get(link), timestamp: row.timestamp)
            }
        }
    }

    static func perDevice(_ name: String, _ help: String, _ get: @escaping @Sendable (IODeviceUsage) -> UInt64?) -> Family {
        Family(name: name, help: help, kind: .counter, present: { $0.io.contains { get($0) != nil } }) { row, name, w in
            for device in row.io {
                guard let value = get(device) else { continue }
                w.series(name, row.labels, [PrometheusTextWriter.ExtraLabel("device", device.name)])
                w.value(value, timestamp: row.timestamp)
            }
        }
    }

    static func perDeviceSeconds(_ name: String, _ help: String, _ get: @escaping @Sendable (IODeviceUsage) -> UInt64?) -> Family {
        Family(name: name, help: help, kind: .counter, present: { $0.io.contains { get($0) != nil } }) { row, name, w in
            for device in row.io {
                guard let value = get(device) else { continue }
                w.series(name, row.labels, [PrometheusTextWriter.ExtraLabel("device", device.name)])
                w.value(micros: value, timestamp: row.timestamp)
            }
        }
    }

    static func perFilesystem(_ name: String, _ help: String, kind: PrometheusTextWriter.Kind = .gauge,
                              _ get: @escaping @Sendable (FilesystemUsage) -> UInt64?) -> Family {
        Family(name: name, help: help, kind: kind, present: { $0.filesystems.contains { get($0) != nil } }) { row, name, w in
            for fs in row.filesystems {
                guard let value = get(fs) else { continue }
                w.series(name, row.labels, [PrometheusTextWriter.ExtraLabel("device", fs.device)])
                w.value(value, timestamp: row.timestamp)
            }
        }
    }
}
