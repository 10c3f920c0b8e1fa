import Testing
@testable import Images

@Suite struct ImageReferenceTests {
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/library/busybox:1", "docker.io/library/busybox:1"),
        ("user/app", "docker.io/user/app:latest"),
        ("bars.local/busybox", "bars.local/busybox:latest"),
        ("localhost/a", "localhost/a:latest"),
        ("localhost:5000/a/b:v1.2-rc_3", "localhost:5000/a/b:v1.2-rc_3"),
        ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
        ("a__b/c-d/e.f", "docker.io/a__b/c-d/e.f:latest"),
        ("[::1]:5000/img", "[::1]:5000/img:latest"),
    ])
    func normalises(input: String, expected: String) throws {
        #expect(try ImageReference(parsing: input).description == expected)
    }

    @Test func digestReferencesDropTheTag() throws {
        let hex = String(repeating: "ab", count: 32)
        let ref = try ImageReference(parsing: "busybox:1.36@sha256:\(hex)")
        #expect(ref.description == "docker.io/library/busybox@sha256:\(hex)")
        #expect(ref.tag == nil)
        #expect(ref.digest?.hex == hex)
        #expect(ref.repository == "docker.io/library/busybox")
        #expect(ref.registryHost == "registry-1.docker.io")
        #expect(try ImageReference(parsing: "127.0.0.1:5000/x@sha256:\(hex)").registryHost == "127.0.0.1:5000")
    }

    @Test(arguments: [
        ("", "empty"),
        ("Busybox", "lowercase"),
        ("docker.io/Library/busybox", "lowercase"),
        ("busybox:", "invalid tag"),
        ("busybox:-x", "invalid tag"),
        ("a//b", "path component"),
        ("a/b_", "path component"),
        ("busybox@sha256:abc", "bad digest"),
        ("busybox@md5:0123", "bad digest"),
        ("bad host!/x", "whitespace"),
        ("host:port/x", "registry host"),
    ])
    func refuses(input: String, reasonFragment: String) {
        do {
            _ = try ImageReference(parsing: input)
            Issue.record("\"\(input)\" was accepted")
        } catch let error as ImageError {
            guard case .invalidReference(let ref, let reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(ref == input)
            #expect(error.description.contains(reasonFragment), "\(reason)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func chainIDFollowsTheOCIFormula() throws {
        let a = try Digest(hex: String(repeating: "1", count: 64))
        let b = try Digest(hex: String(repeating: "2", count: 64))
        #expect(Digest.chainID(of: [a]) == a)
        // sha256("sha256:111… sha256:222…"), computed independently with sha256sum.
        let expected = Digest.of(Array("sha256:\(a.hex) sha256:\(b.hex)".utf8))
        #expect(Digest.chainID(of: [a, b]) == expected)
        #expect(Digest.of(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
