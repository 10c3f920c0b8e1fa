import LinuxPrimitives
import Prometheus
import Synchronization

/// The agent's own `/metrics`: the standard process_* series (read from /proc/self), the
/// swift-metrics registry the agent bootstraps (if any), and sections other modules append
/// (each a closure returning exposition text, called per scrape).
public final class AgentMetrics: Sendable {
    public typealias Section = @Sendable () -> [UInt8]

    public static let contentType = PrometheusTextWriter.contentType

    private let registry: PrometheusCollectorRegistry?
    private let sections: Mutex<[Section]>

    public init(registry: PrometheusCollectorRegistry? = nil) {
        self.registry = registry
        self.sections = Mutex([])
    }

    /// Adds a section of metrics text (complete families with HELP/TYPE) to every scrape.
    public func append(_ section: @escaping Section) {
        sections.withLock { $0.append(section) }
    }

    public func render() -> [UInt8] {
        var w = PrometheusTextWriter(capacity: 8192)
        Self.processMetrics(into: &w)
        var out = w.bytes
        registry?.emit(into: &out)
        for section in sections.withLock({ $0 }) { out.append(contentsOf: section()) }
        return out
    }

    /// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
    /// process_open_fds, process_max_fds, process_start_time_seconds, as client_golang names them.
    static func processMetrics(into w: inout PrometheusTextWriter) {
        let ticks = Double(HostConstants.clockTicksPerSecond)
        if let bytes = (try? KernelFile.read("/proc/self/stat")) ?? nil, let fields = KernelText.procStatFields(bytes), fields.count > 21 {
            // fields[0] is proc(5) field 3, so field N is fields[N - 3].
            let utime = KernelText.number(fields[11]) ?? 0
            let stime = KernelText.number(fields[12]) ?? 0
            let start = KernelText.number(fields[19]) ?? 0
            let vsize = KernelText.number(fields[20]) ?? 0
            let rss = KernelText.number(fields[21]) ?? 0
            w.header("process_cpu_seconds_total", help: "User and system CPU time of the agent process, in seconds.", kind: .counter)
            w.series("process_cpu_seconds_total", .empty)
            w.value(Double(utime + stime) / ticks)
            w.header("process_resident_memory_bytes", help: "Resident memory of the agent process, in bytes.", kind: .gauge)
            w.series("process_resident_memory_bytes", .empty)
            w.value(rss * UInt64(HostConstants.pageSize))
            w.header("process_virtual_memory_bytes", help: "Virtual memory size of the agent process, in bytes.", kind: .gauge)
            w.series("process_virtual_memory_bytes", .empty)
            w.value(vsize)
            if let procStat = (try? KernelFile.read("/proc/stat")) ?? nil,
               let line = KernelText.lines(procStat).first(where: { $0.starts(with: "btime ".utf8) }),
               let boot = KernelText.number(line.dropFirst(6)) {
                w.header("process_start_time_seconds", help: "Start time of the agent process since the Unix epoch, in seconds.", kind: .gauge)
                w.series("process_start_time_seconds", .empty)
                w.value(Double(boot) + Double(start) / ticks)
            }
        }
        if let open = try? KernelFile.countEntries("/proc/self/fd") {
            w.header("process_open_fds", help: "Open file descriptors of the agent process.", kind: .gauge)
            w.series("process_open_fds", .empty)
            w.value(UInt64(open))
        }
        if let bytes = (try? KernelFile.read("/proc/self/limits")) ?? nil, let max = KernelText.openFilesSoftLimit(bytes) {
            w.header("process_max_fds", help: "Maximum number of open file descriptors of the agent process.", kind: .gauge)
            w.series("process_max_fds", .empty)
            w.value(max)
        }
    }
}
