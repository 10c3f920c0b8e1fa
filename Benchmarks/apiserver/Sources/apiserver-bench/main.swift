import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

// Usage: swift run -c release apiserver-bench [--swiftlet PATH] [--pods N] [--concurrency C] [--writes M]
// Starts `swiftlet apiserver` on a free port in a temporary data directory and measures:
//   1. pod creates/s (C keep-alive connections, N pods) and the create latency;
//   2. watch-event latency (write sent → event received) with 10 and 100 watchers;
//   3. the server's RSS idle and with N pods stored (VmRSS and VmHWM from /proc).

func arg(_ name: String, _ def: String) -> String {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count { return a[i + 1] }
    return def
}

let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let root = here.appendingPathComponent("../../../..").standardized
let swiftlet = arg("--swiftlet", root.appendingPathComponent(".build/tuned/release/swiftlet").path)
let podCount = Int(arg("--pods", "10000")) ?? 10000
let concurrency = Int(arg("--concurrency", "16")) ?? 16
let writes = Int(arg("--writes", "300")) ?? 300

/// Shares a lock or atomic between tasks.
final class Box<T: ~Copyable>: Sendable where T: Sendable {
    let value: T
    init(_ v: consuming T) { value = v }
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

func procStatus(_ pid: Int32, _ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
    }
    return 0
}

func mib(_ kb: Int) -> String { String(format: "%.1f MiB", Double(kb) / 1024) }

// MARK: server

guard FileManager.default.isExecutableFile(atPath: swiftlet) else {
    print("no swiftlet binary at \(swiftlet): run `scripts/build-release.sh` in the repository root, or pass --swiftlet")
    exit(2)
}
let dataDir = NSTemporaryDirectory() + "apiserver-bench-\(getpid())"
let server = Process()
server.executableURL = URL(fileURLWithPath: swiftlet)
server.arguments = ["apiserver", "--data-dir", dataDir, "--secure-port", "0"]
server.standardOutput = FileHandle.nullDevice
server.standardError = FileHandle.nullDevice
try server.run()
defer {
    server.terminate()
    server.waitUntilExit()
    try? FileManager.default.removeItem(atPath: dataDir)
}

var url = ""
for _ in 0..<300 {
    if let kc = try? String(contentsOfFile: dataDir + "/admin.kubeconfig", encoding: .utf8),
       let line = kc.split(separator: "\n").first(where: { $0.contains("server:") })
    {
        url = String(line.split(separator: " ").last ?? "")
        break
    }
    usleep(100_000)
}
guard let portText = url.split(separator: ":").last, let port = Int(portText) else {
    print("server did not start")
    exit(1)
}
let token = (try String(contentsOfFile: dataDir + "/admin-token", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
var tlsConfig = TLSConfiguration.makeClientConfiguration()
tlsConfig.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(dataDir + "/pki/ca.crt"))
tlsConfig.certificateVerification = .noHostnameVerification
let ep = Endpoint(host: "127.0.0.1", port: port, token: token, tls: try NIOSSLContext(configuration: tlsConfig))
let clientThreads = Int(arg("--client-threads", "1")) ?? 1
let group = MultiThreadedEventLoopGroup(numberOfThreads: clientThreads)
let pid = server.processIdentifier
try await Task.sleep(for: .seconds(2))
let idleRSS = procStatus(pid, "VmRSS"), idleAnon = procStatus(pid, "RssAnon")
print("swiftlet apiserver pid \(pid) on port \(port); idle RSS \(mib(idleRSS)) (private anonymous \(mib(idleAnon)))")

// MARK: 1. creates/s

func podBody(_ i: Int) -> [UInt8] {
    Array(#"""
    {"apiVersion":"v1","kind":"Pod","metadata":{"name":"bench-\#(i)","labels":{"app":"bench","shard":"s\#(i % 16)"}},"spec":{"schedulerName":"bench-none","containers":[{"name":"app","image":"example.local/app:1","ports":[{"containerPort":8080}],"resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}
    """#.utf8)
}

let next = Atomic<Int>(0)
let createLatencies = Mutex<[Double]>([])
let failures = Atomic<Int>(0)
let start = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { g in
    for _ in 0..<concurrency {
        g.addTask {
            let conn = try await connect(ep, group: group)
            try await conn.executeThenClose { inbound, outbound in
                var x = Exchanger(ep: ep, inbound: inbound.makeAsyncIterator(), outbound: outbound)
                var mine: [Double] = []
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= podCount { break }
                    let t0 = ContinuousClock.now
                    let (status, _) = try await x.send(.POST, "/api/v1/namespaces/default/pods", body: podBody(i))
                    mine.append(ms(ContinuousClock.now - t0))
                    if status != 201 { failures.wrappingAdd(1, ordering: .relaxed) }
                }
                createLatencies.withLock { $0 += mine }
            }
        }
    }
    try await g.waitForAll()
}
let elapsed = ms(ContinuousClock.now - start) / 1000
let lat = createLatencies.withLock { $0 }
print(String(format: "creates: %d pods in %.2f s = %.0f creates/s (%d connections); latency p50 %.2f ms p99 %.2f ms; failures %d",
             podCount, elapsed, Double(podCount) / elapsed, concurrency, percentile(lat, 0.5), percentile(lat, 0.99),
             failures.load(ordering: .relaxed)))
try await Task.sleep(for: .seconds(3))
let rssStored = procStatus(pid, "VmRSS"), hwm = procStatus(pid, "VmHWM"), anon = procStatus(pid, "RssAnon")
print("RSS with \(podCount) pods stored: \(mib(rssStored)) (peak \(mib(hwm)); private anonymous \(mib(anon)), idle was \(mib(idleAnon)))")

// MARK: 2. watch latency

/// Stamps the arrival of each watch event named `wl-N` against the time its write was sent.
final class WatchRecorder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let expect: Int
    let sent: Box<Mutex<[String: ContinuousClock.Instant]>>
    let received: Box<Mutex<[Double]>>
    let ready: Box<Atomic<Int>>
    let completed: Box<Atomic<Int>>
    var pending: [UInt8] = []
    var got = 0
    let marker = Array(#""name":"wl-"#.utf8)

    init(expect: Int, sent: Box<Mutex<[String: ContinuousClock.Instant]>>, received: Box<Mutex<[Double]>>,
         ready: Box<Atomic<Int>>, completed: Box<Atomic<Int>>)
    {
        self.expect = expect
        self.sent = sent
        self.received = received
        self.ready = ready
        self.completed = completed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: ready.value.wrappingAdd(1, ordering: .relaxed)
        case .body(var b):
            let now = ContinuousClock.now
            pending += b.readBytes(length: b.readableBytes) ?? []
            while let nl = pending.firstIndex(of: 10) {
                let line = pending[..<nl]
                defer { pending.removeSubrange(...nl) }
                guard let r = line.firstRange(of: marker) else { continue }
                let name = String(decoding: line[(r.lowerBound + 8)...].prefix { $0 != UInt8(ascii: "\"") }, as: UTF8.self)
                if let t0 = sent.value.withLock({ $0[name] }) {
                    let d = ms(now - t0)
                    received.value.withLock { $0.append(d) }
                }
                got += 1
                if got == expect { completed.value.wrappingAdd(1, ordering: .relaxed) }
            }
        case .end: break
        }
    }
}

func watchLatency(watchers: Int) async throws -> [Double] {
    let ns = "bench-w\(watchers)"
    let setup = try await connect(ep, group: group)
    var rv = ""
    try await setup.executeThenClose { inbound, outbound in
        var x = Exchanger(ep: ep, inbound: inbound.makeAsyncIterator(), outbound: outbound)
        _ = try await x.send(.POST, "/api/v1/namespaces", body: Array(#"{"metadata":{"name":"\#(ns)"}}"#.utf8))
        let (_, body) = try await x.send(.GET, "/api/v1/namespaces/\(ns)/configmaps")
        let text = String(decoding: body, as: UTF8.self)
        if let r = text.range(of: #""resourceVersion":""#) {
            rv = String(text[r.upperBound...].prefix { $0 != "\"" })
        }
    }
    let startRV = rv
    let sent = Box(Mutex<[String: ContinuousClock.Instant]>([:]))
    let received = Box(Mutex<[Double]>([]))
    let ready = Box(Atomic<Int>(0))
    // Watchers are plain channel handlers: arrival is stamped on the event loop as bytes come
    // in, so the client's own scheduling does not inflate the server's latency.
    let completed = Box(Atomic<Int>(0))
    var channels: [Channel] = []
    for _ in 0..<watchers {
        let recorder = WatchRecorder(expect: writes, sent: sent, received: received, ready: ready, completed: completed)
        let ch = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: ep.tls, serverHostname: nil))
                    try ch.pipeline.syncOperations.addHTTPClientHandlers()
                    try ch.pipeline.syncOperations.addHandler(recorder)
                }
            }
            .connect(host: ep.host, port: ep.port).get()
        ch.write(HTTPClientRequestPart.head(head(ep, .GET, "/api/v1/namespaces/\(ns)/configmaps?watch=true&resourceVersion=\(startRV)", bodyLength: nil)),
                 promise: nil)
        ch.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        channels.append(ch)
    }
    while ready.value.load(ordering: .relaxed) < watchers { try await Task.sleep(for: .milliseconds(20)) }
    try await Task.sleep(for: .milliseconds(200))
    let conn = try await connect(ep, group: group)
    try await conn.executeThenClose { inbound, outbound in
        var x = Exchanger(ep: ep, inbound: inbound.makeAsyncIterator(), outbound: outbound)
        for i in 0..<writes {
            let name = "wl-\(i)"
            sent.value.withLock { $0[name] = ContinuousClock.now }
            _ = try await x.send(.POST, "/api/v1/namespaces/\(ns)/configmaps",
                                 body: Array(#"{"metadata":{"name":"\#(name)"},"data":{"k":"v"}}"#.utf8))
            try await Task.sleep(for: .milliseconds(10))
        }
    }
    let deadline = ContinuousClock.now + .seconds(30)
    while completed.value.load(ordering: .relaxed) < watchers, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(50))
    }
    for ch in channels { try? await ch.close() }
    return received.value.withLock { $0 }
}

for w in [10, 100] {
    let l = try await watchLatency(watchers: w)
    print(String(format: "watch latency, %3d watchers: %d events, p50 %.2f ms, p99 %.2f ms, max %.2f ms", w, l.count,
                 percentile(l, 0.5), percentile(l, 0.99), l.max() ?? .nan))
}
print("RSS at end: \(mib(procStatus(pid, "VmRSS"))) (peak \(mib(procStatus(pid, "VmHWM"))))")
try await group.shutdownGracefully()
