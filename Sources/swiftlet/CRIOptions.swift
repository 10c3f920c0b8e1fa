import ArgumentParser
import CRI
import Streaming

/// Flags of the CRI service, shared by `swiftlet cri` and `swiftlet agent` (kubelet's and
/// containerd's names where they have one).
struct CRIOptions: ParsableArguments {
    @Option(help: "CRI v1 endpoint to serve (unix:///path; default unix://<run-dir>/cri.sock, /run/swiftlet/cri.sock for the default root).")
    var containerRuntimeEndpoint: String?

    @Option(help: "Address of the streaming server that Exec, Attach and PortForward URLs point to.")
    var streamServerAddress = "127.0.0.1"

    @Option(help: "Port of the streaming server (0: any free port).")
    var streamServerPort = 0

    @Option(name: .customLong("insecure-registry"), help: "A registry (host:port) to pull from over plain HTTP; repeatable.")
    var insecureRegistries: [String] = []

    func socketPath(runDir: String) throws -> String {
        try CRISettings.socketPath(endpoint: containerRuntimeEndpoint ?? "unix://" + runDir + "/cri.sock")
    }

    var settings: CRISettings { CRISettings(insecureRegistries: Set(insecureRegistries)) }

    var streaming: StreamingConfiguration { StreamingConfiguration(host: streamServerAddress, port: streamServerPort) }
}
