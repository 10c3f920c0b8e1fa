import LinuxNetlink
import Testing
@testable import CNI

@Suite struct ResultAndErrorTests {
    func sample() throws -> CNIResult {
        var result = CNIResult(cniVersion: "1.1.0")
        result.interfaces = [.init(name: "cni0", mac: "0a:58:0a:58:00:01"), .init(name: "eth0", mac: "0a:58:0a:58:00:05", mtu: 1400, sandbox: "/run/netns/x")]
        result.ips = [.init(address: try #require(IPNetwork("10.88.0.5/16")), gateway: IPAddress("10.88.0.1"), interface: 1),
                      .init(address: try #require(IPNetwork("fd00::5/64")), gateway: IPAddress("fd00::1"), interface: 1)]
        var route = CNIResult.Route(dst: try #require(IPNetwork("0.0.0.0/0")), gw: IPAddress("10.88.0.1"))
        route.mtu = 1400
        route.table = 100
        result.routes = [route]
        result.dns.nameservers = ["10.96.0.10"]
        result.dns.search = ["default.svc.cluster.local"]
        return result
    }

    @Test func serializesPerVersion() throws {
        let result = try sample()
        let v11 = result.json()
        #expect(v11["ips"]?.arrayValue?.first?["version"] == nil)
        #expect(v11["interfaces"]?.arrayValue?[1]["mtu"] == .int(1400))
        #expect(v11["routes"]?.arrayValue?.first?["table"] == .int(100))
        let v10 = result.json(version: "1.0.0")
        #expect(v10["cniVersion"] == "1.0.0")
        #expect(v10["interfaces"]?.arrayValue?[1]["mtu"] == nil)
        #expect(v10["routes"]?.arrayValue?.first?["mtu"] == nil)
        let v04 = result.json(version: "0.4.0")
        #expect(v04["ips"]?.arrayValue?.map { $0["version"] } == ["4", "6"])
        #expect(try CNIResult(json: v11) == result)
        var back = try CNIResult(json: v04)
        back.cniVersion = "1.1.0"
        #expect(back.ips == result.ips)
    }

    @Test func parseErrorsNameTheField() {
        do {
            _ = try CNIResult(json: try JSON.parse(#"{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.1/24"},{"address":"nope"}]}"#))
            Issue.record("must fail")
        } catch let error as CNIError {
            #expect(error.code == CNIError.decodeFailure)
            #expect(error.msg.contains("ips[1].address"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func errorObjectRoundTrip() throws {
        let error = CNIError(code: 11, msg: "no IP addresses available", details: "range 10.0.0.2-10.0.0.2", cniVersion: "1.0.0")
        let json = error.json
        #expect(json["code"] == .int(11))
        #expect(CNIError(json: json) == error)
        #expect(error.description.contains("try again later"))
        #expect(CNIError(json: try JSON.parse(#"{"cniVersion":"1.0.0","ips":[]}"#)) == nil)
    }

    @Test func versions() {
        #expect(CNIVersion.atLeast("1.1.0", "1.0.0"))
        #expect(CNIVersion.atLeast("0.4.0", "0.4.0"))
        #expect(!CNIVersion.atLeast("0.3.1", "0.4.0"))
        #expect(!CNIVersion.atLeast("1.0.0", "1.1.0"))
        #expect(CNIVersion.parse("1.0") == nil)
    }
}
