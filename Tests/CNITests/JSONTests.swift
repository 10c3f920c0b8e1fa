import Testing
@testable import CNI

@Suite struct JSONTests {
    @Test func roundTripsKeepingKeyOrder() throws {
        let text = #"{"b":1,"a":[true,false,null,"x"],"c":{"z":-2.5,"y":"\u00e9\n\"q\""}}"#
        let value = try JSON.parse(text)
        #expect(value["b"] == .int(1))
        #expect(value["a"]?.arrayValue?.count == 4)
        #expect(value["c"]?["z"] == .double(-2.5))
        #expect(value["c"]?["y"]?.stringValue == "é\n\"q\"")
        #expect(value.objectValue?.keys == ["b", "a", "c"])
        let again = try JSON.parse(value.serialized())
        #expect(again == value)
        #expect(value.text.hasPrefix(#"{"b":1,"a":[true,false,null,"x"]"#))
    }

    @Test func escapesControlCharactersAndSurrogates() throws {
        let value = JSON.string("tab\there\u{01}😀")
        #expect(value.text == #""tab\there\u0001😀""#)
        #expect(try JSON.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(throws: JSONParseError.self) { try JSON.parse(#""\ud83d""#) }
    }

    @Test func numbers() throws {
        #expect(try JSON.parse("0") == .int(0))
        #expect(try JSON.parse("-12") == .int(-12))
        #expect(try JSON.parse("1e3").intValue == 1000)
        #expect(try JSON.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSON.parse("1.5").intValue == nil)
        #expect(JSON.double(3).text == "3")
        #expect(throws: JSONParseError.self) { try JSON.parse("01") }
        #expect(throws: JSONParseError.self) { try JSON.parse("1.") }
        #expect(throws: JSONParseError.self) { try JSON.parse("-") }
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "tru", "\"abc", "[1] 2", "{'a':1}", "\"a\u{01}\""])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parse(text) }
    }

    @Test func errorsSayWhere() {
        do {
            _ = try JSON.parse(#"{"name": "x", "plugins": [}"#)
            Issue.record("must fail")
        } catch {
            #expect(error.offset == 26)
            #expect(error.description.contains("byte 26"))
        }
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(throws: JSONParseError.self) { try JSON.parse(deep) }
    }

    @Test func objectEqualityIgnoresOrder() throws {
        #expect(try JSON.parse(#"{"a":1,"b":2}"#) == JSON.parse(#"{"b":2,"a":1}"#))
        #expect(try JSON.parse(#"{"a":1,"b":2}"#) != JSON.parse(#"{"a":1}"#))
    }
}
