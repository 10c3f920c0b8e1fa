import Foundation
import KubeAPI
import Testing

@Suite struct KubeTimeTests {
    @Test func formatsSecondsPrecisionUTC() {
        #expect(KubeTime.string(epochSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(KubeTime.string(epochSeconds: 1_704_164_645) == "2024-01-02T03:04:05Z")
        #expect(KubeTime.string(Date(timeIntervalSince1970: 1_704_164_645.999)) == "2024-01-02T03:04:05Z")
    }

    @Test func parsesWhatItFormatsAndTheOtherRFC3339Forms() throws {
        for seconds in [0, 951_782_400 /* 2000-02-29 */, 1_704_164_645, 4_102_444_799] {
            let text = KubeTime.string(epochSeconds: seconds)
            #expect(KubeTime.parse(text)?.timeIntervalSince1970 == Double(seconds), "\(text)")
        }
        let micro = try #require(KubeTime.parse("2024-01-02T03:04:05.250000Z"))
        #expect(abs(micro.timeIntervalSince1970 - 1_704_164_645.25) < 1e-6)
        #expect(KubeTime.parse("2024-01-02T04:04:05+01:00")?.timeIntervalSince1970 == 1_704_164_645)
        #expect(KubeTime.parse("2024-01-01T22:04:05-05:00")?.timeIntervalSince1970 == 1_704_164_645)
        #expect(KubeTime.parse("2024-01-02t03:04:05z")?.timeIntervalSince1970 == 1_704_164_645)
    }

    @Test func refusesWhatIsNotATimestamp() {
        for bad in ["", "2024-01-02", "2024-01-02T03:04:05", "2024-13-02T03:04:05Z", "2024-01-02T25:04:05Z",
                    "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05Zjunk", "2024-01-02T03:04:05+0100",
                    "20x4-01-02T03:04:05Z", "2024-01-02 03:04:05Z"] {
            #expect(KubeTime.parse(bad) == nil, "\(bad)")
        }
    }
}
