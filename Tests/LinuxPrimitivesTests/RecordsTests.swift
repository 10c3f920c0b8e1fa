import Testing
@testable import LinuxPrimitives

@Suite struct RecordsTests {
    @Test func roundTripsArbitraryBytes() {
        var r = Records()
        r.append("arg", "sh")
        r.append("arg", "-c")
        r.append("arg", "echo 'a\nb'")
        r.append("bpf", [0, 10, 32, 255])
        r.append("uid", 1000)
        r.append("nnp", true)
        let decoded = Records.decode(r.encoded())
        #expect(decoded == r)
        #expect(decoded?.strings("arg") == ["sh", "-c", "echo 'a\nb'"])
        #expect(decoded?.int("uid") == 1000)
        #expect(decoded?.bool("nnp") == true)
    }

    @Test func rejectsTruncatedInput() {
        var r = Records()
        r.append("key", "value")
        let bytes = r.encoded()
        #expect(Records.decode(Array(bytes.dropLast(2))) == nil)
        #expect(Records.decode(Array("key 99\nshort\n".utf8)) == nil)
        #expect(Records.decode([]) == Records())
    }
}
