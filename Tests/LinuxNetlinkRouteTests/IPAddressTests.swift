import Testing
@testable import LinuxNetlink

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("10.88.0.1", "10.88.0.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("::", "::"),
        ("::1", "::1"),
        ("fd00:0:0:0:0:0:0:1", "fd00::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:DB8::8:800:200C:417A", "2001:db8::8:800:200c:417a"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("fe80::", "fe80::"),
    ])
    func parsesAndPrintsCanonically(input: String, canonical: String) throws {
        let address = try #require(IPAddress(input))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
        #expect(IPAddress(bytes: address.bytes) == address)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "a.b.c.d", ":::", "1::2::3",
                      "1:2:3:4:5:6:7:8:9", "12345::", ":1:2", "1:", "10.0.0.1/8"])
    func rejectsMalformed(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func networkArithmetic() throws {
        let net = try #require(IPNetwork("10.88.3.7/16"))
        #expect(net.network.description == "10.88.0.0/16")
        #expect(net.first == IPAddress("10.88.0.0"))
        #expect(net.last == IPAddress("10.88.255.255"))
        #expect(net.contains(try #require(IPAddress("10.88.200.1"))))
        #expect(!net.contains(try #require(IPAddress("10.89.0.1"))))
        #expect(!net.contains(try #require(IPAddress("::1"))))
        #expect(net.size == 65536)
        let v6 = try #require(IPNetwork("fd00:10::5/64"))
        #expect(v6.first.description == "fd00:10::")
        #expect(v6.last.description == "fd00:10::ffff:ffff:ffff:ffff")
        #expect(try #require(IPNetwork("10.0.0.0/8")).overlaps(try #require(IPNetwork("10.1.0.0/16"))))
        #expect(!(try #require(IPNetwork("10.0.0.0/16")).overlaps(try #require(IPNetwork("10.1.0.0/16")))))
        #expect(IPNetwork("10.0.0.0/33") == nil)
        #expect(IPNetwork("10.0.0.0/") == nil)
    }

    @Test func advancing() throws {
        #expect(IPAddress("10.0.0.255")?.advanced(by: 1) == IPAddress("10.0.1.0"))
        #expect(IPAddress("255.255.255.255")?.advanced(by: 1) == nil)
        #expect(IPAddress("::ffff:ffff:ffff:ffff")?.advanced(by: 1) == IPAddress("0:0:0:1::"))
        #expect(IPAddress("0:0:0:1::")?.advanced(by: -1) == IPAddress("::ffff:ffff:ffff:ffff"))
    }

    @Test func macAddresses() throws {
        let mac = try #require(MACAddress("0A:58:0a:f4:00:01"))
        #expect(mac.description == "0a:58:0a:f4:00:01")
        #expect(MACAddress("0a:58:0a:f4:00") == nil)
        let random = MACAddress.randomLocal()
        #expect(random.bytes[0] & 0x01 == 0, "unicast")
        #expect(random.bytes[0] & 0x02 == 2, "locally administered")
    }
}
