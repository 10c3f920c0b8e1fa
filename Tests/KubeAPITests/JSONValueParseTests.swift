import Foundation
import KubeAPI
import Testing

/// The hand-written JSON reader gives what `JSONDecoder` gives for `JSONValue`, and refuses what
/// is not JSON with the byte offset, never crashing on deep or broken input.
struct JSONValueParseTests {
    static let documents = [
        #"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-1","labels":{"app":"web"},"resourceVersion":"42"},"spec":{"containers":[{"name":"c","image":"busybox","args":["-c","echo \"hi\"\n"],"ports":[{"containerPort":8080}]}],"terminationGracePeriodSeconds":30,"priority":-5},"status":{"phase":"Running","ready":true,"score":0.25,"big":1e21,"nothing":null}}"#,
        #"{"type":"ADDED","object":{"a":[1,2,[3,[4,{}]],[]],"s":"caf\u00e9 \ud83d\ude00 \/ \\ \b\f\r\t","e":"","u":"日本"}}"#,
        #"[true,false,null,-0,0,123456789012,-9223372036854775808,9223372036854775808,1.5e-3,2E+2,1.0,1e18,1e21,0.5e1]"#,
        " \n\t{ \"spaced\" : [ 1 , 2 ] }\r\n",
        #""just a string""#,
        "17",
    ]

    @Test(arguments: documents)
    func matchesJSONDecoder(_ text: String) throws {
        let expected = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(try JSONValue.parse(Array(text.utf8)) == expected)
        #expect(try JSONValue.parse(text.utf8) == expected)  // a non-contiguous collection too
    }

    @Test func numbersAndEscapes() throws {
        #expect(try JSONValue.parse(Array("9223372036854775807".utf8)) == .int(.max))
        #expect(try JSONValue.parse(Array("9223372036854775808".utf8)) == .double(9223372036854775808))
        #expect(try JSONValue.parse(Array("-1.25".utf8)) == .double(-1.25))
        #expect(try JSONValue.parse(Array("2E+2".utf8)) == .int(200))
        #expect(try JSONValue.parse(Array(#""\ud83d\ude00""#.utf8)) == .string("😀"))
        #expect(try JSONValue.parse(Array(#"{"k":1,"k":2}"#.utf8)) == .object(["k": .int(2)]))
    }

    @Test(arguments: [
        ("", 0), ("{", 1), (#"{"a":1,}"#, 7), ("[1,]", 3), ("[1 2]", 3), (#""abc"#, 4), ("01", 1), ("1.", 2), ("-", 1),
        ("tru", 0), ("nul", 0), (#""\x""#, 3), (#""\ud83d""#, 7), (#""\ude00""#, 7), ("1e999", 5), ("{} {}", 3),
        ("\"a\u{01}b\"", 2), ("[\"\\u12G4\"]", 6),
    ])
    func refusesWhatIsNotJSON(_ text: String, _ offset: Int) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(text.utf8)) }
        do { _ = try JSONValue.parse(Array(text.utf8)) } catch let error as JSONValue.ParseError {
            #expect(error.offset == offset, "\(text): \(error)")
        } catch { Issue.record(error) }
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(deep.utf8)) }
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect((try? JSONValue.parse(Array(ok.utf8))) != nil)
    }
}
