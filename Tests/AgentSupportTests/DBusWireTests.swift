import Testing
@testable import AgentSupport

/// The marshalling format on its own: round trips, byte layout, and hostile input refused.
@Suite struct DBusWireTests {
    func roundTrip(_ message: DBusMessage, fds: [Int32] = []) throws -> DBusMessage {
        try DBusMessage.decode(try message.encoded(serial: 7), fds: fds)
    }

    @Test func methodCallRoundTripsWithNestedBody() throws {
        let body: [DBusValue] = [
            .string("shutdown"), .boolean(true), .byte(9), .int16(-2), .uint16(3), .int32(-4), .uint32(5),
            .int64(-6), .uint64(1 << 40), .double(2.5), .objectPath("/org/freedesktop/login1"), .signature("a{sv}"),
            .array(elementSignature: "{sv}", [
                .dictEntry(key: .string("a"), value: .variant(.uint64(5_000_000))),
                .dictEntry(key: .string("b"), value: .variant(.array(elementSignature: "s", []))),
            ]),
            .structure([.byte(1), .string("x"), .array(elementSignature: "(ssssuu)", [])]),
            .variant(.variant(.int32(1))),
        ]
        let call = DBusMessage.methodCall(destination: "org.freedesktop.login1", path: "/org/freedesktop/login1",
                                          interface: "org.freedesktop.login1.Manager", member: "Inhibit", body: body)
        let back = try roundTrip(call)
        #expect(back.kind == .methodCall)
        #expect(back.serial == 7)
        #expect(back.destination == "org.freedesktop.login1")
        #expect(back.path == "/org/freedesktop/login1")
        #expect(back.interface == "org.freedesktop.login1.Manager")
        #expect(back.member == "Inhibit")
        #expect(back.body == body)
        #expect(back.signature == "sbynqiuxtdoga{sv}(ysa(ssssuu))v")
    }

    @Test func headerLayoutFollowsTheSpecification() throws {
        var ret = DBusMessage(kind: .methodReturn)
        ret.replySerial = 3
        ret.body = [.uint32(0x11223344)]
        let bytes = try ret.encoded(serial: 0x0102)
        // 'l', METHOD_RETURN, no flags, version 1; body length 4; serial 0x102.
        #expect(Array(bytes[0..<12]) == [0x6c, 2, 0, 1, 4, 0, 0, 0, 0x02, 0x01, 0, 0])
        #expect(bytes.count % 8 == 4, "header padded to 8, then a 4-byte body")
        #expect(Array(bytes.suffix(4)) == [0x44, 0x33, 0x22, 0x11])
        #expect(try DBusMessage.frameLength(bytes[...]) == bytes.count)
        #expect(try DBusMessage.frameLength(bytes[0..<15]) == nil, "needs 16 bytes to know the length")
    }

    @Test func bigEndianMessagesAreRead() throws {
        // A METHOD_RETURN from a big-endian peer: reply serial 1, body "u" = 258.
        var fields = DBusEncoder()
        try fields.encode(.array(elementSignature: "(yv)", [
            .structure([.byte(5), .variant(.uint32(1))]), .structure([.byte(8), .variant(.signature("u"))]),
        ]), depth: 0)
        // Re-encode big-endian by hand: swap every multi-byte integer we wrote.
        let le = fields.bytes
        var be: [UInt8] = [0x42, 2, 0, 1, 0, 0, 0, 4, 0, 0, 0, 9]
        be += [0, 0, 0, UInt8(le[0])]            // fields array length
        be += [5, 1, 0x75, 0, 0, 0, 0, 1]        // (y=5, v=u 1)
        be += [8, 1, 0x67, 0, 1, 0x75, 0]        // (y=8, v=g "u")
        while be.count % 8 != 0 { be.append(0) }
        be += [0, 0, 1, 2]
        let message = try DBusMessage.decode(be)
        #expect(message.serial == 9)
        #expect(message.replySerial == 1)
        #expect(message.body == [.uint32(258)])
    }

    @Test func descriptorsAreCountedInTheHeader() throws {
        let signal = DBusMessage.signal(path: "/a", interface: "org.x.Y", member: "Z", body: [.unixFD(0)], fds: [42])
        let bytes = try signal.encoded(serial: 1)
        let back = try DBusMessage.decode(bytes, fds: [42, 43])
        #expect(back.fds == [42], "takes only the descriptors the header names")
        #expect(throws: DBusError.self) { _ = try DBusMessage.decode(bytes, fds: []) }
        let bad = DBusMessage.signal(path: "/a", interface: "org.x.Y", member: "Z", body: [.unixFD(3)], fds: [42])
        #expect(throws: DBusError.self) { _ = try DBusMessage.decode(try bad.encoded(serial: 1), fds: [42]) }
    }

    @Test func invalidValuesAreNotSent() {
        #expect(throws: DBusError.self) { _ = try DBusMessage.signal(path: "/a//b", interface: "i.x", member: "m").encoded(serial: 1) }
        #expect(throws: DBusError.self) {
            _ = try DBusMessage.signal(path: "/a", interface: "i.x", member: "m", body: [.string("nul\u{0}inside")]).encoded(serial: 1)
        }
        #expect(throws: DBusError.self) {
            _ = try DBusMessage.signal(path: "/a", interface: "i.x", member: "m",
                                       body: [.array(elementSignature: "s", [.uint32(1)])]).encoded(serial: 1)
        }
        #expect(throws: DBusError.self) { _ = try DBusMessage.signal(path: "/a", interface: "i.x", member: "m").encoded(serial: 0) }
        #expect(throws: DBusError.self) { _ = try DBusMessage(kind: .methodCall).encoded(serial: 1) }
    }

    @Test func signaturesAreParsedStrictly() throws {
        #expect(try DBusSignature.split("sa{sv}(ii)as") == ["s", "a{sv}", "(ii)", "as"])
        for bad in ["a", "(", "()", "{sv}", "a{vs}", "a{s}", "a{sss}", "z", "(i", String(repeating: "a", count: 80) + "i"] {
            #expect(throws: DBusError.self, "signature \(bad)") { _ = try DBusSignature.split(bad) }
        }
    }

    @Test func truncatedAndHostileMessagesAreErrorsNotCrashes() throws {
        let good = try DBusMessage.signal(path: "/a", interface: "org.x.Y", member: "Z",
                                          body: [.string("hello"), .array(elementSignature: "u", [.uint32(1), .uint32(2)])]).encoded(serial: 1)
        // Every truncation, and every single-byte corruption, is either decoded or refused.
        for cut in 0..<good.count {
            #expect(throws: DBusError.self) { _ = try DBusMessage.decode(Array(good[0..<cut])) }
        }
        for i in 0..<good.count {
            for value: UInt8 in [0x00, 0xff, 0x7f, 0x01] {
                var corrupt = good
                corrupt[i] = value
                _ = try? DBusMessage.decode(corrupt)
            }
        }
        // A claimed length beyond the limit is refused before anything is buffered.
        var huge = good
        huge[4] = 0xff; huge[5] = 0xff; huge[6] = 0xff; huge[7] = 0x7f
        #expect(throws: DBusError.self) { _ = try DBusMessage.frameLength(huge[...]) }
    }

    @Test func deeplyNestedVariantsAreRefused() throws {
        var value = DBusValue.byte(1)
        for _ in 0..<40 { value = .variant(value) }
        let ok = try DBusMessage.signal(path: "/a", interface: "i.x", member: "m", body: [value]).encoded(serial: 1)
        #expect(try DBusMessage.decode(ok).body == [value])
        for _ in 0..<40 { value = .variant(value) }
        #expect(throws: DBusError.self) { _ = try DBusMessage.signal(path: "/a", interface: "i.x", member: "m", body: [value]).encoded(serial: 1) }
    }

    @Test func matchRulesQuoteAndMatch() {
        let rule = DBusMatchRule(sender: "org.freedesktop.login1", path: "/org/freedesktop/login1",
                                 interface: "org.freedesktop.login1.Manager", member: "PrepareForShutdown")
        #expect(rule.text == "type='signal',sender='org.freedesktop.login1',path='/org/freedesktop/login1',interface='org.freedesktop.login1.Manager',member='PrepareForShutdown'")
        var signal = DBusMessage.signal(path: "/org/freedesktop/login1", interface: "org.freedesktop.login1.Manager",
                                        member: "PrepareForShutdown", body: [.boolean(true)])
        signal.sender = ":1.3"
        #expect(rule.matches(signal), "a well-known sender is left to the bus's routing")
        signal.member = "PrepareForSleep"
        #expect(!rule.matches(signal))
        #expect(!DBusMatchRule(sender: ":1.9").matches(signal))
        #expect(DBusMatchRule(member: "it's").text == "type='signal',member='it'\\''s'")
    }

    @Test func busAddressesAreParsed() throws {
        #expect(try DBusAddress.parse("unix:path=/run/dbus/system_bus_socket") == UnixSocketAddressFixture.path("/run/dbus/system_bus_socket"))
        #expect(try DBusAddress.parse("unix:abstract=/tmp/dbus-x,guid=abc") == UnixSocketAddressFixture.abstract("/tmp/dbus-x"))
        #expect(try DBusAddress.parse("tcp:host=x;unix:path=/a%20b") == UnixSocketAddressFixture.path("/a b"))
        #expect(throws: DBusError.self) { _ = try DBusAddress.parse("tcp:host=localhost,port=1") }
        #expect(throws: DBusError.self) { _ = try DBusAddress.parse("unix:path=/a%2") }
    }
}

import LinuxPrimitives
enum UnixSocketAddressFixture {
    static func path(_ p: String) -> UnixSocketAddress { UnixSocketAddress(path: p) }
    static func abstract(_ n: String) -> UnixSocketAddress { UnixSocketAddress(abstract: Array(n.utf8)) }
}
