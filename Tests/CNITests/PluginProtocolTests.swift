import CNI
import LinuxNetlink
import Testing
@testable import CNIPlugins

@Suite struct PluginProtocolTests {
    let base = ["CNI_CONTAINERID=abc", "CNI_NETNS=/run/netns/x", "CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin:/usr/lib/cni"]
    let config = Array(#"{"cniVersion":"1.0.0","name":"net","type":"swiftlet-bridge"}"#.utf8)

    func code(_ environment: [String], _ stdin: [UInt8]) -> UInt? {
        do {
            _ = try PluginMain.decode(environment: environment, stdin: stdin, pluginName: "test")
            return nil
        } catch {
            return error.code
        }
    }

    @Test func decodesAValidAdd() throws {
        let request = try PluginMain.decode(environment: base + ["CNI_COMMAND=ADD", "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=web"],
                                            stdin: config, pluginName: "test")
        #expect(request.command == .add)
        #expect(request.path == ["/opt/cni/bin", "/usr/lib/cni"])
        #expect(request.arg("K8S_POD_NAME") == "web")
        #expect(request.cniVersion == "1.0.0")
        #expect(request.networkName == "net")
    }

    @Test func environmentRules() {
        #expect(code(base, config) == CNIError.invalidEnvironment)
        #expect(code(base + ["CNI_COMMAND=FROB"], config) == CNIError.invalidEnvironment)
        #expect(code(["CNI_COMMAND=ADD", "CNI_NETNS=/x", "CNI_IFNAME=eth0"], config) == CNIError.invalidEnvironment)
        #expect(code(["CNI_COMMAND=ADD", "CNI_CONTAINERID=-bad", "CNI_NETNS=/x", "CNI_IFNAME=eth0"], config) == CNIError.invalidEnvironment)
        #expect(code(["CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_IFNAME=eth0"], config) == CNIError.invalidEnvironment)
        #expect(code(["CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_NETNS=/x", "CNI_IFNAME=a/b"], config) == CNIError.invalidEnvironment)
        #expect(code(["CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_NETNS=/x", "CNI_IFNAME=averyveryverylongname"], config) == CNIError.invalidEnvironment)
        // DEL does not need a namespace; GC and STATUS need no attachment at all.
        #expect(code(["CNI_COMMAND=DEL", "CNI_CONTAINERID=a", "CNI_IFNAME=eth0"], config) == nil)
        #expect(code(["CNI_COMMAND=GC"], config) == nil)
        #expect(code(["CNI_COMMAND=STATUS"], config) == nil)
        #expect(code(base + ["CNI_COMMAND=ADD", "CNI_ARGS=novalue"], config) == CNIError.invalidEnvironment)
    }

    @Test func configRules() {
        #expect(code(base + ["CNI_COMMAND=ADD"], Array("{nope".utf8)) == CNIError.decodeFailure)
        #expect(code(base + ["CNI_COMMAND=ADD"], Array("[]".utf8)) == CNIError.invalidNetworkConfig)
        #expect(code(base + ["CNI_COMMAND=ADD"], Array(#"{"cniVersion":"9.9.9","name":"n","type":"t"}"#.utf8)) == CNIError.incompatibleVersion)
        #expect(code(base + ["CNI_COMMAND=CHECK"], config) == CNIError.invalidNetworkConfig, "CHECK without prevResult")
        #expect(code(base + ["CNI_COMMAND=ADD"], Array(#"{"cniVersion":"1.0.0","name":"n","prevResult":{"ips":[{"address":"x"}]}}"#.utf8)) == CNIError.decodeFailure)
        // VERSION accepts an empty stdin.
        #expect(code(["CNI_COMMAND=VERSION"], []) == nil)
    }

    func hostLocal(_ ipam: String) throws(CNIError) -> HostLocalConfig {
        let document = try? JSON.parse(#"{"cniVersion":"1.0.0","name":"net","ipam":"# + ipam + "}")
        return try HostLocalConfig(config: try ConfigFields(document ?? .null, path: ""))
    }

    @Test func hostLocalDefaultsFollowUpstream() throws {
        let config = try hostLocal(#"{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/16"}],[{"subnet":"fd00:88::/64"}]],"routes":[{"dst":"0.0.0.0/0"}]}"#)
        let v4 = config.rangeSets[0][0]
        #expect(v4.rangeStart == IPAddress("10.88.0.1"))
        #expect(v4.rangeEnd == IPAddress("10.88.255.254"))
        #expect(v4.gateway == IPAddress("10.88.0.1"))
        let v6 = config.rangeSets[1][0]
        #expect(v6.rangeEnd == IPAddress("fd00:88::ffff:ffff:ffff:ffff"))
        #expect(config.routes.count == 1)
        #expect(config.dataDir == "/var/lib/cni/networks")
        let legacy = try hostLocal(#"{"type":"host-local","subnet":"10.1.2.0/24","rangeStart":"10.1.2.10","rangeEnd":"10.1.2.20","gateway":"10.1.2.254"}"#)
        #expect(legacy.rangeSets[0][0] == IPRange(subnet: try #require(IPNetwork("10.1.2.0/24")), rangeStart: try #require(IPAddress("10.1.2.10")),
                                                  rangeEnd: try #require(IPAddress("10.1.2.20")), gateway: IPAddress("10.1.2.254")))
    }

    @Test(arguments: [
        (#"{"type":"host-local"}"#, "ipam.ranges"),
        (#"{"ranges":[[{"subnet":"10.0.0.0"}]]}"#, "ipam.ranges[0][0].subnet"),
        (#"{"ranges":[[{"subnet":42}]]}"#, "ipam.ranges[0][0].subnet"),
        (#"{"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.1.5"}]]}"#, "ipam.ranges[0][0].rangeStart"),
        (#"{"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.9","rangeEnd":"10.0.0.5"}]]}"#, "rangeStart"),
        (#"{"ranges":[[{"subnet":"10.0.0.0/31"}]]}"#, "too small"),
        (#"{"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.0/25"}]]}"#, "overlaps"),
        (#"{"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}]]}"#, "mixes"),
        (#"{"ranges":[]}"#, "ipam.ranges"),
        (#"{"ranges":[[{"subnet":"10.0.0.0/24"}]],"routes":[{"dst":"x"}]}"#, "ipam.routes[0].dst"),
    ])
    func hostLocalErrorsNameTheField(ipam: String, expected: String) {
        do {
            _ = try hostLocal(ipam)
            Issue.record("\(ipam) must be rejected")
        } catch {
            #expect(error.msg.contains(expected), "\(error.msg)")
        }
    }

    @Test func cursorWalksRoundRobinAndWraps() throws {
        let range = IPRange(subnet: try #require(IPNetwork("10.0.0.0/29")), rangeStart: try #require(IPAddress("10.0.0.1")),
                            rangeEnd: try #require(IPAddress("10.0.0.6")), gateway: IPAddress("10.0.0.1"))
        var cursor = HostLocalPlugin.Cursor(set: [range], after: IPAddress("10.0.0.4"))
        var seen: [String] = []
        while let (address, _) = cursor.next() { seen.append(address.description) }
        #expect(seen == ["10.0.0.5", "10.0.0.6", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"])
        var fresh = HostLocalPlugin.Cursor(set: [range], after: nil)
        #expect(fresh.next()?.0 == IPAddress("10.0.0.1"))
    }

    @Test func bridgeConfigDefaultsAndErrors() throws {
        let config = try BridgeConfig(config: ConfigFields(try JSON.parse(#"{"isDefaultGateway":true,"mtu":1400,"ipam":{"type":"host-local"}}"#), path: ""))
        #expect(config.bridge == "cni0")
        #expect(config.isGateway)
        #expect(config.mtu == 1400)
        #expect(config.ipamType == "host-local")
        #expect(throws: CNIError.self) { try BridgeConfig(config: ConfigFields(try JSON.parse(#"{"mtu":"big"}"#), path: "")) }
        #expect(throws: CNIError.self) { try BridgeConfig(config: ConfigFields(try JSON.parse(#"{"bridge":"a/b"}"#), path: "")) }
    }

    @Test func portmapConfig() throws {
        func request(_ text: String) throws -> PluginRequest {
            try PluginMain.decode(environment: base + ["CNI_COMMAND=ADD"], stdin: Array(text.utf8), pluginName: "t")
        }
        let config = try PortmapConfig(request: request(#"{"cniVersion":"1.0.0","name":"n","runtimeConfig":{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"TCP"},{"hostPort":53,"containerPort":53,"protocol":"udp","hostIP":"127.0.0.1"}]}}"#))
        #expect(config.mappings.count == 2)
        #expect(config.mappings[0].proto == "tcp")
        #expect(config.mappings[1].hostIP == IPAddress("127.0.0.1"))
        #expect(throws: CNIError.self) {
            try PortmapConfig(request: request(#"{"cniVersion":"1.0.0","name":"n","runtimeConfig":{"portMappings":[{"hostPort":0,"containerPort":80}]}}"#))
        }
    }
}
