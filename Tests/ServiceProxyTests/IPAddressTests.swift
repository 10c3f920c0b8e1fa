import Testing
@testable import ServiceProxy

@Suite struct IPAddressTests {
    @Test func parsesAndPrintsBothFamilies() {
        #expect(IPAddress("10.96.0.10")?.bytes == [10, 96, 0, 10])
        #expect(IPAddress("10.96.0.256") == nil)
        #expect(IPAddress("10.96.0") == nil)
        #expect(IPAddress("010.1.1.1") == nil)
        #expect(IPAddress("fd00::10")?.description == "fd00::10")
        #expect(IPAddress("fd00:0:0:1::")?.description == "fd00:0:0:1::")
        #expect(IPAddress("::1")?.isLoopback == true)
        #expect(IPAddress("::ffff:10.0.0.1")?.bytes.suffix(4) == [10, 0, 0, 1])
        #expect(IPAddress("fd00:::1") == nil)
        #expect(IPAddress("1:2:3:4:5:6:7:8:9") == nil)
        #expect(IPPrefix("10.0.0.0/8")?.contains(IPAddress("10.2.3.4")!) == true)
        #expect(IPPrefix("10.0.0.0/8")?.contains(IPAddress("11.2.3.4")!) == false)
        #expect(IPPrefix("10.0.0.0/33") == nil)
    }
}
