import NIOCore
import Testing
@testable import Streaming

/// SPDY/3 header blocks and frames: what one side compresses the other decompresses, across
/// several blocks of one zlib stream (as a connection carries them), and frames split at the
/// 8-byte header with the right control/data bits.
struct SPDYFramingTests {
    @Test func headerBlocksRoundTripAcrossOneStream() throws {
        let sender = try SPDYHeaderCodec()
        let receiver = try SPDYHeaderCodec()
        for i in 0..<3 {
            let block = try sender.encode([("streamType", "data"), ("port", "80\(i)"), ("requestID", String(i))])
            let decoded = try receiver.decode(block)
            #expect(decoded == ["streamtype": ["data"], "port": ["80\(i)"], "requestid": [String(i)]])
        }
        #expect(try receiver.decode(sender.encode([])) == [:])
    }

    @Test func garbageIsAnError() throws {
        let receiver = try SPDYHeaderCodec()
        #expect(throws: SPDYProtocolError.self) { try receiver.decode(ByteBuffer(bytes: [1, 2, 3, 4, 5, 6])) }
    }

    @Test func dictionaryIsTheSPDY3One() {
        // 1423 bytes; zlib checks its Adler-32 when a peer's stream was primed with it, so a
        // changed byte breaks every SPDY client (kubectl port-forward proves the value).
        #expect(SPDYHeaderCodec.dictionary.count == 1423)
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in SPDYHeaderCodec.dictionary {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        #expect(b << 16 | a == 0xe3c6_a7c2)
    }

    @Test func frameHeaders() {
        var out = ByteBuffer()
        SPDYFrame.writeControl(SPDYFrame.ControlType.ping, flags: 0, payload: ByteBuffer(bytes: [0, 0, 0, 1]), into: &out)
        #expect(Array(out.readableBytesView) == [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1])
        out.clear()
        SPDYFrame.writeData(streamID: 5, flags: SPDYFrame.flagFin, payload: ByteBuffer(bytes: [9]), into: &out)
        #expect(Array(out.readableBytesView) == [0, 0, 0, 5, 0x01, 0, 0, 1, 9])
    }
}
